import DroverCore
import Foundation
import Synchronization

/// This droverd's part in the election among instances sharing a PostgreSQL state
/// store: the `LeaderElection` state machine behind a mutex, on the monotonic
/// clock. `LeadershipService` feeds it the state database's answers; the fleet
/// asks `mayLead()` right before it starts each phase, so a leader whose lease ran
/// out (stopped, cut off) starts nothing even before the service notices.
public final class Leadership: Sendable {
    public let instance: InstanceIdentity
    public let fleetName: String
    private let election: Mutex<LeaderElection>
    private let heartbeats = Mutex<[InstanceHeartbeat]>([])
    private let origin = ContinuousClock.now
    private let stopping = Atomic<Bool>(false)

    public init(instance: InstanceIdentity = .current(), fleetName: String, lease: Duration) {
        self.instance = instance
        self.fleetName = fleetName
        election = Mutex(LeaderElection(instance: instance.id, lease: lease))
    }

    /// Monotonic time since this process made its `Leadership`.
    var now: Duration { ContinuousClock.now - origin }

    public var lease: Duration { election.withLock { $0.lease } }
    public var renewalInterval: Duration { election.withLock { $0.renewalInterval } }

    public func mayLead() -> Bool {
        let now = self.now
        return election.withLock { $0.mayLead(at: now) }
    }

    public var leader: LeaderElection.Holder? { election.withLock { $0.leader } }

    func answered(holder: LeaderElection.Holder?, sentAt: Duration) -> LeaderElection.Action {
        let now = self.now
        return election.withLock { $0.answered(holder: holder, sentAt: sentAt, now: now) }
    }

    func tick() -> LeaderElection.Action {
        let now = self.now
        return election.withLock { $0.tick(now: now) }
    }

    /// The instances as last read from the state store, for status.
    public var instances: [InstanceHeartbeat] { heartbeats.withLock { $0 } }

    /// Graceful shutdown: stop campaigning (the lease is given up after the fleet drained).
    func requestStop() { stopping.store(true, ordering: .relaxed) }
    var stopRequested: Bool { stopping.load(ordering: .relaxed) }

    func record(_ instances: [InstanceHeartbeat]) { heartbeats.withLock { $0 = instances } }
}
