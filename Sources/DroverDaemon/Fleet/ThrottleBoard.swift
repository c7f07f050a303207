import Synchronization

/// Why each throttled backfill waits, written by the phases' tasks on the libpq
/// threads, read by status and by the loop (which turns changes into events).
final class ThrottleBoard: Sendable {
    private let reasons = Mutex<[String: String]>([:])

    func set(_ name: String, _ reason: String?) {
        reasons.withLock { $0[name] = reason }
    }

    var current: [String: String] { reasons.withLock { $0 } }
}
