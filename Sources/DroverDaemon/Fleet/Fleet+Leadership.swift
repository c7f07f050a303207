import DroverCore
import Foundation

/// Who starts phases in a fleet.
public enum FleetRole: Sendable, Equatable {
    /// The only droverd on a SQLite state file.
    case sole
    /// Holds the lease on a shared PostgreSQL state store.
    case leader(LeaderElection.Holder)
    /// Observes and answers reading calls from the shared state; `leader` is nil
    /// while no instance is known to hold the lease.
    case follower(leader: LeaderElection.Holder?)

    var startsPhases: Bool {
        if case .follower = self { false } else { true }
    }
}

extension Fleet {
    /// This instance took the lease: the shared state is the truth (the previous
    /// leader may have changed every part of it), then phases in flight at the
    /// previous leader's end are reconciled, then the loop schedules.
    func lead(as holder: LeaderElection.Holder) async {
        do {
            try await readSharedState(expectedDurations: true)
            stateStoreWritable()
        } catch {
            // Without the shared state this instance must not decide anything.
            logger.error("took the lease but cannot read the shared state; not leading yet: \(error)")
            return
        }
        // The previous leader's intents, read afresh by the loop's next round
        // (`reconcileIntentsDue`); until each is checked its database starts nothing.
        // Not here: checking one can wait seconds for the old leader's advisory lock,
        // and this call holds up the lease's renewal (a leader that renewed late lost
        // the lease to a follower, which then did the same).
        unreconciledIntents = nil
        lastReconcile = nil
        role = .leader(holder)
        tickGate.schedulerChanged()
        logger.notice("leading the fleet (term \(holder.term)); phases start from this droverd")
        emit("leader", "droverd on \(holder.host) (pid \(holder.pid)) leads, term \(holder.term)")
        wake.signal()
    }

    /// Another instance leads, or this one's lease ran out: no phase starts here any
    /// more. Phases already running finish (each holds its database's advisory lock,
    /// so the new leader cannot run them twice).
    func follow(_ leader: LeaderElection.Holder?) {
        let wasLeading = if case .leader = role { true } else { false }
        role = .follower(leader: leader)
        if wasLeading {
            logger.warning(
                "lost the lease\(leader.map { " to droverd on \($0.host) (pid \($0.pid))" } ?? ""); no longer starting phases, \(running.count) running finish")
        } else if let leader {
            logger.notice("following droverd on \(leader.host) (pid \(leader.pid)), leader since \(Self.isoTime(leader.since))")
        }
        emit("follower", leader.map { "following droverd on \($0.host) (pid \($0.pid))" } ?? "no droverd holds the lease")
    }

    /// A follower's copy of what the leader decides (targets, releases, waves,
    /// pauses, failures), read back every few seconds for status and plan.
    func followSharedState() async {
        if let last = lastSharedRead, ContinuousClock.now - last < Self.sharedStateInterval { return }
        lastSharedRead = .now
        do {
            try await readSharedState()
            stateStoreWritable()
        } catch {
            _ = stateStoreFailed(error)
        }
    }

    private func readSharedState(expectedDurations: Bool = false) async throws {
        let tiers = try await store.tiers()
        let failures = try await store.failures()
        let paused = try await store.pausedDatabases()
        let reasons = try await store.pauseReasons()
        let durations = expectedDurations ? try await store.expectedDurations() : nil
        scheduler.replaceShared(tiers: tiers, failures: failures, pausedDatabases: paused, pauseReasons: reasons, expectedDurations: durations)
    }

    static let sharedStateInterval: Duration = .seconds(2)
}
