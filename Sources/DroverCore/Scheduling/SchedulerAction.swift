import Foundation

/// What the scheduler asks the daemon to do. The daemon runs these; the scheduler
/// does no I/O.
public enum SchedulerAction: Sendable, Hashable {
    /// Run one phase on one database (through the phase runner).
    case start(database: String, step: PlannedStep)
    /// Run these schema tenants' phases one after another on one connection of
    /// their database (`LaneBuilder`); each is its own phase, with its own end.
    case startLane([LaneMember])
    /// Cancel a running phase (PQcancel; it rolls back and is retried later).
    case cancel(database: String, step: PlannedStep, because: CancelReason)
    /// Failures beyond a wave's budget: the tier starts nothing until `resume`.
    case halt(tier: String, wave: String, failed: [String])
    /// Every database of a wave has the target expanded; its soak starts now.
    case waveFinished(tier: String, wave: String)
    /// Write this to the state store. After an operator's command the machine takes
    /// the change only once the daemon reports it written (`persisted`): a command
    /// is answered only when a crash can no longer lose it. After its own decisions
    /// (a halt, a wave's end, a failure) the machine has taken it already.
    case persist(StoredChange)
    /// Read this database again at the next round (a retry, a failure, a stamp).
    case readSoon(database: String)
    /// Nothing changes before this moment unless an event arrives (soak end, window
    /// opening, retry time): the loop need not tick before it.
    case wakeUp(at: Date)
}

/// Why the scheduler cancels a running phase.
public enum CancelReason: Sendable, Hashable {
    /// The maintenance window of a window-bound phase closed at this moment.
    case windowClosed(at: Date)
    /// `droverctl cancel`, and what the operator said.
    case operatorRequest(String)
}

/// A piece of the scheduler's state that outlives the process (docs/states.md).
public enum StoredChange: Sendable, Hashable {
    case tier(String, TierControl)
    case paused(database: String, Bool, reason: String?)
    case failure(database: String, DatabaseRuntime.Failure?)
}

/// How the scheduler answers an operator's command.
public enum CommandDecision: Sendable, Hashable {
    /// Already so: nothing to do (the command is still answered and audited).
    case unchanged
    /// Run these; the change is taken when its `persist` actions are written.
    case accepted([SchedulerAction])
    /// Not allowed now, and why.
    case refused(String)
}

/// How a phase ended badly, as the daemon reports it to the scheduler.
public enum PhaseFailure: Sendable, Hashable {
    /// The phase failed (statement error, lock timeouts used up): counts against
    /// the wave's budget and waits for `droverctl retry`.
    case failed(String)
    /// The phase found applied sections whose files changed: nothing ran, so it is
    /// not a failure and spends no budget; the database waits for `droverctl stamp`.
    case tampered([TamperedSection])
    /// The database could not be reached: not a failure of the revision; retried
    /// after `delay`.
    case unreachable(String, retryAfter: Duration)
    /// Someone else holds the advisory lock: retried after `delay`.
    case locked(pid: Int32?, retryAfter: Duration)
    /// droverd could not start the phase for a reason of its own (its state store
    /// cannot record the intent): nothing happened to the database; retried after
    /// `delay`, and the reason shows in status.
    case notStarted(String, retryAfter: Duration)
    /// Cancelled (window end, shutdown) and rolled back: retried when allowed.
    case cancelled
    /// A backfill throttled for `max_wait` stopped (its batches stay): not a
    /// failure; started again after `delay`, and the reason shows in status.
    case throttled(String, retryAfter: Duration)
}

/// The state words of docs/states.md.
public enum DatabaseStateWord: String, Sendable, Hashable, Codable, CaseIterable {
    case current, pending, expanding, backfilling
    case waitingWindow = "waiting-window"
    case waitingRelease = "waiting-release"
    case contracting, failed, tampered, unreachable, paused, locked, gone
}
