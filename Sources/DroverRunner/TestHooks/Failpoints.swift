import DroverCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Named points where tests make drover misbehave on purpose, set through
/// `DROVER_FAILPOINTS="name=action,..."` in debug builds (`DROVER_TEST_HOOKS`); a
/// release build reads no such variable and every point does nothing. Parsed once
/// at start; a point that is not set costs one dictionary lookup.
///
/// Actions:
/// - `crash`: SIGKILL the process there (no cleanup, as a power cut would);
///   `crash@N` the N-th time the point is reached;
/// - `stall`: hang there for good; `stall-after-DURATION`: run normally for that
///   long after start, then hang.
///
/// The points (issue #7): `phase-before-commit` (a transactional phase's
/// statements done in its transaction, its tracking row and COMMIT not sent), `phase-after-commit` (the
/// database has the phase, the daemon's state store not yet), `backfill-between-batches`,
/// `no-transaction-between-statements`, `alembic-after-upgrade` (Alembic committed,
/// drover's tracking row not written), `reload` (new manifest read, not yet in
/// force), `scheduler-loop`.
public final class Failpoints: Sendable {
    public enum Action: Sendable, Equatable {
        case stall(after: Duration)
        case crash(atHit: Int)
    }

    #if DROVER_TEST_HOOKS
    public static let current = Failpoints(ProcessInfo.processInfo.environment["DROVER_FAILPOINTS"] ?? "")
    #else
    public static let current = Failpoints("")
    #endif

    private let actions: [String: Action]
    private let started = ContinuousClock.now
    private let hits = Mutex<[String: Int]>([:])

    public init(_ specification: String) {
        var actions: [String: Action] = [:]
        for entry in specification.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            let action = parts[1]
            if action == "stall" {
                actions[parts[0]] = .stall(after: .zero)
            } else if action.hasPrefix("stall-after-"), let delay = try? DurationText.parse(String(action.dropFirst("stall-after-".count))) {
                actions[parts[0]] = .stall(after: delay)
            } else if action == "crash" {
                actions[parts[0]] = .crash(atHit: 1)
            } else if action.hasPrefix("crash@"), let hit = Int(action.dropFirst("crash@".count)), hit >= 1 {
                actions[parts[0]] = .crash(atHit: hit)
            }
        }
        self.actions = actions
    }

    /// Crashes or hangs here if `name` says so and its time has come.
    /// Runs where its caller runs: reaching a point costs no hop off the caller's actor.
    nonisolated(nonsending) public func reach(_ name: String) async {
        #if DROVER_TEST_HOOKS
        switch actions[name] {
        case nil:
            return
        case .stall(let after):
            guard ContinuousClock.now - started >= after else { return }
            while true { try? await Task.sleep(for: .seconds(3600)) }
        case .crash(let atHit):
            let hit = hits.withLock { counts in
                counts[name, default: 0] += 1
                return counts[name]!
            }
            guard hit == atHit else { return }
            FileHandle.standardError.write(Data("failpoint \(name): crashing (SIGKILL)\n".utf8))
            kill(getpid(), SIGKILL)
            while true { try? await Task.sleep(for: .seconds(3600)) }
        }
        #endif
    }
}
