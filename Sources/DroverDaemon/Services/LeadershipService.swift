import DroverCore
import Logging
import ServiceLifecycle

/// Keeps this droverd's place in the election (issue: high availability): every
/// third of the lease it takes or renews the fleet's lease in the state database
/// and writes its heartbeat; between those it checks each second whether a lease
/// it held ran out unrenewed. Tells the fleet when it leads and when it follows.
/// At shutdown (after the fleet has drained) it gives the lease up, so a follower
/// takes over at its next attempt instead of after the expiry.
public struct LeadershipService: Service {
    let leadership: Leadership
    let fleet: Fleet
    let store: StateStore
    let logger: Logger

    public init(leadership: Leadership, fleet: Fleet, store: StateStore, logger: Logger) {
        self.leadership = leadership
        self.fleet = fleet
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await campaign()
        } onGracefulShutdown: {
            // The loop ends at its next check; cancellation-free so the lease is
            // released below with a working connection.
            leadership.requestStop()
        }
        let identity = leadership.instance
        if leadership.leader?.instance == identity.id {
            do {
                try await store.releaseLease(fleet: leadership.fleetName, instance: identity)
                logger.notice("gave up the lease; another droverd takes over")
            } catch {
                logger.warning("cannot give up the lease (it expires by itself within \(leadership.lease)): \(error)")
            }
        }
        try? await store.heartbeat(identity, role: "stopped")
    }

    private func campaign() async {
        var unreachable = false
        while !leadership.stopRequested && !Task.isCancelled {
            let sentAt = leadership.now
            do {
                let holder = try await store.takeOrRenewLease(fleet: leadership.fleetName, instance: leadership.instance, lease: leadership.lease)
                await act(leadership.answered(holder: holder, sentAt: sentAt))
                try await store.heartbeat(leadership.instance, role: leadership.mayLead() ? "leader" : "follower")
                leadership.record(try await store.instances())
                // The heartbeat is a write: a leader that kept its lease through an
                // outage may have nothing else to write for a long time.
                await fleet.stateStoreWritable()
                if unreachable { logger.notice("the state database answers again") }
                unreachable = false
            } catch {
                if !unreachable { logger.error("cannot reach the lease in the state database: \(error)") }
                unreachable = true
            }
            // Check each second in between: a lease that ran out stops the fleet at once.
            let next = sentAt + leadership.renewalInterval
            while leadership.now < next && !leadership.stopRequested && !Task.isCancelled {
                await act(leadership.tick())
                try? await Task.sleep(for: min(.seconds(1), next - leadership.now))
            }
        }
    }

    private func act(_ action: LeaderElection.Action) async {
        switch action {
        case .none: break
        case .lead(let holder): await fleet.lead(as: holder)
        case .follow(let leader): await fleet.follow(leader)
        }
    }
}
