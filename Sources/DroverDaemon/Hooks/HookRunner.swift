import DroverCore
import DroverRunner
import Foundation
import Synchronization

/// What a hook is told: the event as one JSON object on stdin, and the same as
/// `DROVER_*` variables. Never a password: nothing of a dsn or droverd's own
/// environment is passed on, beyond `PATH` and `LANG`.
public struct HookEvent: Sendable, Codable, Hashable {
    public var event: String
    public var at: String
    public var database: String?
    public var tier: String?
    public var revision: String?
    public var phase: String?
    public var message: String

    var environment: [String: String] {
        var environment = ["DROVER_EVENT": event]
        environment["DROVER_DB"] = database
        environment["DROVER_TIER"] = tier
        environment["DROVER_REVISION"] = revision
        environment["DROVER_PHASE"] = phase
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        environment["LANG"] = ProcessInfo.processInfo.environment["LANG"]
        return environment
    }
}

/// How a hook ended.
public struct HookResult: Sendable {
    public var status: Int32
    public var timedOut: Bool
    public var output: String
    public var duration: Duration

    public var succeeded: Bool { status == 0 && !timedOut }

    /// The last line it printed, for a failed database's error.
    public var lastLine: String {
        output.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
    }

    /// "exit 0 in 120 ms", "exit 3: no space left", "killed after its timeout of 5s".
    public var summary: String {
        if timedOut { return "killed after its timeout (\(DurationText.format(duration)))" + (lastLine.isEmpty ? "" : ": \(lastLine)") }
        if status == 0 { return "exit 0 in \(duration.milliseconds) ms" }
        return "exit \(status)" + (lastLine.isEmpty ? "" : ": \(lastLine)")
    }
}

/// Runs hooks off the fleet's loop, each in a process group of its own that is
/// killed at the hook's timeout. Notification hooks run at most `limit` at a time;
/// the rest wait their turn (the loop never waits for them).
public final class HookRunner: Sendable {
    let limit: Int
    private let slots: Mutex<(free: Int, waiting: [CheckedContinuation<Void, Never>])>

    public init(limit: Int = 4) {
        self.limit = limit
        slots = Mutex((limit, []))
    }

    /// Runs `hook` for `event` to its end or its timeout.
    public func run(_ hook: Hook, _ event: HookEvent) async -> HookResult {
        let started = ContinuousClock.now
        let input = Array(((try? JSONEncoder.sorted.encode(event)) ?? Data()) + Data("\n".utf8))
        let process = ChildProcess(arguments: hook.run, environment: event.environment, directory: "/", killAfter: .seconds(2), input: input)
        let timedOut = TimedOut()
        let outcome = await withTaskGroup(of: Result<ChildProcess.Result, any Error>?.self) { group in
            group.addTask {
                do { return .success(try await process.run()) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: hook.timeout)
                if !Task.isCancelled { timedOut.set() }
                return nil
            }
            var result: Result<ChildProcess.Result, any Error>?
            while let next = await group.next() {
                if let next {
                    result = next
                    group.cancelAll()  // the timer
                } else if timedOut.isSet {
                    group.cancelAll()  // the process: SIGTERM to its group, SIGKILL after 2 s
                }
            }
            return result
        }
        let duration = ContinuousClock.now - started
        switch outcome {
        case .success(let finished)?:
            return HookResult(status: finished.status, timedOut: timedOut.isSet, output: finished.output, duration: duration)
        case .failure(let error)?:
            return HookResult(status: 127, timedOut: false, output: "\(error)", duration: duration)
        case nil:
            return HookResult(status: 127, timedOut: true, output: "", duration: duration)
        }
    }

    /// Runs a notification hook when a slot is free; the caller does not wait for it.
    public func notify(_ hook: Hook, _ event: HookEvent, then report: @escaping @Sendable (HookResult) async -> Void) {
        Task {
            await acquire()
            let result = await run(hook, event)
            release()
            await report(result)
        }
    }

    private func acquire() async {
        await withCheckedContinuation { continuation in
            let admitted = slots.withLock { state in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    private func release() {
        let next = slots.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}

private final class TimedOut: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var isSet: Bool { state.withLock { $0 } }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
