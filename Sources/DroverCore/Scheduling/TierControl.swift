import Foundation

/// What operators and the daemon decided about one tier (SPEC §6); the daemon keeps
/// it in its state store so that it survives restarts.
public struct TierControl: Sendable, Hashable, Codable {
    /// The revision the tier should reach. For the first tier of the pipeline `nil`
    /// means "follow the repository head"; for later tiers it means "not promoted yet".
    public var target: String?
    /// Contracts up to this revision may run in this tier.
    public var released: String?
    public var paused = false
    /// Set when failures exceeded a wave's budget; cleared by `resume`.
    public var halt: Halt?
    /// When each wave (by index) finished for `target`; soak counts from there.
    public var wavesFinished: [Int: Date] = [:]

    public init(target: String? = nil, released: String? = nil) {
        self.target = target
        self.released = released
    }

    public struct Halt: Sendable, Hashable, Codable {
        public var wave: String
        public var failed: [String]
        public var at: Date

        public init(wave: String, failed: [String], at: Date) {
            self.wave = wave
            self.failed = failed
            self.at = at
        }
    }
}

/// A database's observed state: what its tracking table, its connection and the
/// advisory lock said at the last poll.
public struct ObservedDatabase: Sendable, Hashable {
    public var reachable: Bool
    public var records: [TrackingRecord]
    /// Another session holds drover's advisory lock.
    public var lockedBy: Int32?
    public var observedAt: Date
    /// The rows of the database's Alembic version table; `nil` when it has none.
    public var alembicVersions: [String]?

    public init(reachable: Bool, records: [TrackingRecord] = [], lockedBy: Int32? = nil, observedAt: Date, alembicVersions: [String]? = nil) {
        self.reachable = reachable
        self.records = records
        self.lockedBy = lockedBy
        self.observedAt = observedAt
        self.alembicVersions = alembicVersions
    }
}

/// The scheduler's memory of a database between polls.
public struct DatabaseRuntime: Sendable, Hashable {
    public var running: RunningPhase?
    /// A phase that failed: it waits for `droverctl retry` (waits that are not
    /// failures, such as an unreachable database, are `notBefore`).
    public var failure: Failure?
    /// A no-longer-listed discovered database.
    public var gone = false
    /// Not before this moment (unreachable, locked): a wait, not a failure.
    public var notBefore: Date?
    public var lastProblem: String?
    /// Why droverd did not start the last phase it chose (`PhaseFailure.notStarted`).
    public var heldBecause: String?
    /// A cancel was sent for `running` (window end).
    public var cancelRequested = false

    public init() {}

    public struct RunningPhase: Sendable, Hashable {
        public var step: PlannedStep
        public var startedAt: Date
        /// The window the phase must finish in, for window-bound phases.
        public var mustEndBy: Date?
    }

    public struct Failure: Sendable, Hashable, Codable {
        public var step: PlannedStep
        public var message: String
        public var attempts: Int
    }
}
