import Foundation

/// What the scheduler knows a database is doing between polls: one state, so that
/// "running and failed" or "waiting with no reason" cannot be written down.
public enum DatabaseRuntime: Sendable, Hashable {
    /// Nothing running, nothing failed: the gates decide.
    case idle
    case running(RunningPhase)
    /// Not before `until`: a wait, not a failure. The state stays after `until` has
    /// passed, until the next phase starts: an unreachable or locked database is
    /// retried on its own time rather than on the next read.
    case waiting(until: Date, Wait)
    /// A phase that failed: it waits for `droverctl retry`.
    case failed(Failure)

    public enum Wait: Sendable, Hashable {
        case unreachable
        case locked
        /// droverd did not start the phase it chose (`PhaseFailure.notStarted`), and why.
        case notStarted(String)
        /// A backfill gave back its slot after `max_wait` throttled, and why it waited.
        case throttled(String)
    }

    public struct RunningPhase: Sendable, Hashable {
        public var step: PlannedStep
        public var startedAt: Date
        /// The window the phase must finish in, for window-bound phases.
        public var mustEndBy: Date?
        /// A cancel was sent (window end, operator).
        public var cancelRequested = false
        /// The lane it runs in (its first member's name), when it shares a
        /// connection with other tenants (`LaneBuilder`).
        public var lane: String?
    }

    public struct Failure: Sendable, Hashable, Codable {
        public var step: PlannedStep
        public var message: String
        public var attempts: Int

        public init(step: PlannedStep, message: String, attempts: Int) {
            self.step = step
            self.message = message
            self.attempts = attempts
        }
    }

    public var running: RunningPhase? {
        if case .running(let phase) = self { phase } else { nil }
    }

    public var failure: Failure? {
        if case .failed(let failure) = self { failure } else { nil }
    }

    public var notBefore: Date? {
        if case .waiting(let until, _) = self { until } else { nil }
    }

    /// Why droverd did not start the last phase it chose.
    public var heldBecause: String? {
        if case .waiting(_, .notStarted(let reason)) = self { reason } else { nil }
    }

    /// Why a backfill that gave back its slot waits (`PhaseFailure.throttled`).
    public var throttledBecause: String? {
        if case .waiting(_, .throttled(let reason)) = self { reason } else { nil }
    }
}
