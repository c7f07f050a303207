import DroverCore

/// `Plan`: what promote would do, changing nothing.
public struct PlanReport: Sendable, Codable, Hashable {
    public var revision: String
    public var tier: String
    /// Why promote would be refused now, if it would.
    public var refused: String?
    public var databases: [DatabasePlan]
    /// `PlanHash` of this plan: `promote --plan-hash` is refused when it changed.
    public var plan_hash: String

    public init(revision: String, tier: String, refused: String?, databases: [DatabasePlan], plan_hash: String) {
        self.revision = revision
        self.tier = tier
        self.refused = refused
        self.databases = databases
        self.plan_hash = plan_hash
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
