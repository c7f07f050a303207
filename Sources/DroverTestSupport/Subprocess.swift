import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion with posix_spawn and waitpid, for tests that drive
/// the real binaries and tools. Output goes to files, not pipes: a daemon the command
/// starts (pg_ctl's postmaster) would inherit a pipe and keep it open for its whole
/// life, and a pipe nobody drains can block the child.
public enum Subprocess {
    public struct Result: Sendable {
        /// Exit status, or 128 + signal number when killed by a signal.
        public var status: Int32
        public var output: String
        public var errors: String
    }

    /// The same on a thread of its own: waiting for a process must not hold one of
    /// the cooperative pool's two threads, which every other test needs.
    public static func run(_ arguments: [String], environment: [String: String]? = nil) async throws -> Result {
        try await offThePool { try run(arguments, environment: environment) }
    }

    public static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> Result {
        let base = "/tmp/drv-cmd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let outputPath = base + ".out", errorPath = base + ".err"
        defer {
            unlink(outputPath)
            unlink(errorPath)
        }
        let pid = try spawn(arguments, environment: environment ?? [:], output: outputPath, errors: errorPath)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Result(
            status: exitStatus(status),
            output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
            errors: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        )
    }

    /// Starts `arguments` with stdin from /dev/null, stdout to `output` and stderr to
    /// `errors` (or to `output` as well when `nil`); the environment is this
    /// process's with `environment` on top.
    static func spawn(_ arguments: [String], environment: [String: String], output: String, errors: String?) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if let errors {
            posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let merged = environment.merging(ProcessInfo.processInfo.environment) { own, _ in own }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
        guard spawned == 0 else { throw SubprocessError("cannot run \(arguments[0]): \(String(cString: strerror(spawned)))") }
        return pid
    }

    /// A `waitpid` status as an exit code, or 128 + signal number.
    static func exitStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// A product built next to the test bundle (`.build/<triple>/debug/NAME`).
    public static func builtProduct(_ name: String) throws -> String {
        var candidates: [String] = []
        if let directory = ProcessInfo.processInfo.environment["DROVER_BIN_DIR"] { candidates.append(directory + "/" + name) }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            candidates.append(url.appendingPathComponent(name).path)
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw SubprocessError("\(name) is not built; run `swift build` first (looked in \(candidates.joined(separator: ", ")))")
        }
        return found
    }
}

public struct SubprocessError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A process started in the background (a daemon under test). Its output goes to
/// files that the test can read at any time.
public final class BackgroundProcess: Sendable {
    public let pid: pid_t
    public let outputPath: String
    /// Set once reaped: a second wait answers the same, and no signal reaches a
    /// process that reused the pid.
    private let exitStatus = Mutex<Int32?>(nil)

    public init(_ arguments: [String], environment: [String: String] = [:]) throws {
        outputPath = "/tmp/drv-bg-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        pid = try Subprocess.spawn(arguments, environment: environment, output: outputPath, errors: nil)
    }

    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) {
        exitStatus.withLock { status in if status == nil { kill(pid, signal) } }
    }

    /// Waits for the process to exit (at most `timeout`); returns its exit status, or
    /// 128 + signal, or nil when it is still running.
    public func wait(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let reaped: Int32? = exitStatus.withLock { known in
                if let known { return known }
                var status: Int32 = 0
                guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
                known = Subprocess.exitStatus(status)
                return known
            }
            if let reaped { return reaped }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    deinit {
        signal(SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, WNOHANG)
        unlink(outputPath)
    }
}

/// Runs blocking work (waitpid, a blocking socket) on a thread of its own, so that
/// tests never stall the two threads of the cooperative pool.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// Polls `condition` until it holds (at most `timeout`); whether it did.
public func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}
