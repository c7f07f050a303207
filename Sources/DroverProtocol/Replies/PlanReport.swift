import DroverCore

/// `Plan`: what promote would do, changing nothing.
public struct PlanReport: Sendable, Codable, Hashable {
    public var revision: String
    public var tier: String
    /// Why promote would be refused now, if it would.
    public var refused: String?
    /// The plan by wave, always.
    public var waves: [WavePlan]
    /// Each database; in a tier of more than `listLimit` only when asked for (`all`).
    public var databases: [DatabasePlan]
    /// How many databases `databases` leaves out.
    public var databases_omitted: Int?
    /// `PlanHash` of this plan (every database, listed or not): `promote --plan-hash`
    /// is refused when it changed.
    public var plan_hash: String

    /// Tiers up to this size list their databases unasked.
    public static let listLimit = 100

    public init(
        revision: String, tier: String, refused: String?, waves: [WavePlan] = [], databases: [DatabasePlan], databases_omitted: Int? = nil,
        plan_hash: String
    ) {
        self.revision = revision
        self.tier = tier
        self.refused = refused
        self.waves = waves
        self.databases = databases
        self.databases_omitted = databases_omitted
        self.plan_hash = plan_hash
    }

    public struct WavePlan: Sendable, Codable, Hashable {
        public var name: String
        public var databases: Int
        /// Databases with at least one phase to run.
        public var moving: Int
        public var phases: [WavePhase]

        public init(name: String, databases: Int, moving: Int, phases: [WavePhase]) {
            self.name = name
            self.databases = databases
            self.moving = moving
            self.phases = phases
        }
    }

    public struct WavePhase: Sendable, Codable, Hashable {
        public var revision: String
        public var phase: Phase
        public var databases: Int
        /// The earliest start among the wave's databases, for window-bound phases.
        public var earliest_start: String?

        public init(revision: String, phase: Phase, databases: Int, earliest_start: String?) {
            self.revision = revision
            self.phase = phase
            self.databases = databases
            self.earliest_start = earliest_start
        }
    }

    public struct DatabasePlan: Sendable, Codable, Hashable {
        public var name: String
        public var wave: String
        public var phases: [PhasePlan]

        public init(name: String, wave: String, phases: [PhasePlan]) {
            self.name = name
            self.wave = wave
            self.phases = phases
        }
    }

    public struct PhasePlan: Sendable, Codable, Hashable {
        public var revision: String
        public var phase: Phase
        /// The phase's SQL; left out by `droverctl plan --no-sql`.
        public var sql: String?
        /// For window-bound phases: the earliest moment it may start.
        public var earliest_start: String?

        public init(revision: String, phase: Phase, sql: String, earliest_start: String?) {
            self.revision = revision
            self.phase = phase
            self.sql = sql
            self.earliest_start = earliest_start
        }
    }
}
