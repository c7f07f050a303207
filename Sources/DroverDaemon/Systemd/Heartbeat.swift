import Synchronization

/// When the fleet loop last went round, readable without the fleet actor: a
/// scheduler that hangs (or an actor that deadlocks) stops the beats, and the
/// watchdog pings stop with them, so systemd restarts the daemon.
public final class Heartbeat: Sendable {
    private let last = Atomic<Int64>(0)

    public init() {}

    public func beat(at now: ContinuousClock.Instant = .now) {
        last.store(Self.nanoseconds(now), ordering: .relaxed)
    }

    /// How long ago the loop last went round; `nil` before it first did.
    public func age(at now: ContinuousClock.Instant = .now) -> Duration? {
        let stored = last.load(ordering: .relaxed)
        guard stored != 0 else { return nil }
        return .nanoseconds(Self.nanoseconds(now) - stored)
    }

    private static func nanoseconds(_ instant: ContinuousClock.Instant) -> Int64 {
        let elapsed = instant - Self.origin
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000 + 1
    }

    private static let origin = ContinuousClock.now
}
