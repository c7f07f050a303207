import DroverCore

/// `Status` and `droverctl status --json` (docs/cli.md): `{"databases": [...], "tiers": [...]}`.
public struct FleetStatus: Sendable, Codable, Hashable {
    public var databases: [DatabaseRow]
    public var tiers: [TierRow]
    /// Set while droverd cannot write its state store: no phase starts meanwhile.
    public var state_store_error: String?
    /// Set when several droverd share a PostgreSQL state store: who leads, and every
    /// instance heard from.
    public var leader: LeaderRow?
    public var instances: [InstanceRow]?

    public init(databases: [DatabaseRow], tiers: [TierRow], state_store_error: String? = nil, leader: LeaderRow? = nil, instances: [InstanceRow]? = nil) {
        self.databases = databases
        self.tiers = tiers
        self.state_store_error = state_store_error
        self.leader = leader
        self.instances = instances
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(databases, forKey: .databases)
        try container.encode(tiers, forKey: .tiers)
        try container.encode(state_store_error, forKey: .state_store_error)
        if let instances {
            try container.encode(leader, forKey: .leader)
            try container.encode(instances, forKey: .instances)
        }
    }

    /// The instance holding the lease: `term` counts takeovers.
    public struct LeaderRow: Sendable, Codable, Hashable {
        public var instance: String
        public var host: String
        public var pid: Int
        public var since: String
        public var term: Int

        public init(instance: String, host: String, pid: Int, since: String, term: Int) {
            self.instance = instance
            self.host = host
            self.pid = pid
            self.since = since
            self.term = term
        }
    }

    /// One droverd sharing the state store; `this` marks the one that answered.
    public struct InstanceRow: Sendable, Codable, Hashable {
        public var id: String
        public var host: String
        public var pid: Int
        /// leader, follower or stopped
        public var role: String
        public var started_at: String
        public var heartbeat_at: String
        public var this: Bool

        public init(id: String, host: String, pid: Int, role: String, started_at: String, heartbeat_at: String, this: Bool) {
            self.id = id
            self.host = host
            self.pid = pid
            self.role = role
            self.started_at = started_at
            self.heartbeat_at = heartbeat_at
            self.this = this
        }
    }

    public struct DatabaseRow: Sendable, Codable, Hashable {
        public var name: String
        public var tier: String
        public var wave: String?
        /// host:port, never the full conninfo.
        public var server: String?
        public var schema: String?
        public var expanded: String?
        public var contracted: String?
        public var target: String?
        public var state: DatabaseStateWord
        public var next_window: String?
        public var error: String?
        public var alembic: String?
        /// Why a backfill waits between batches (docs/operations.md: "replica lag 14s > 10s").
        public var throttled: String?
        /// How its schema differs from the others at its revision (`droverctl drift` has it all).
        public var drift: String?

        public init(
            name: String, tier: String, wave: String?, server: String?, schema: String?, expanded: String?, contracted: String?,
            target: String?, state: DatabaseStateWord, next_window: String?, error: String?, alembic: String?, throttled: String? = nil,
            drift: String? = nil
        ) {
            self.name = name
            self.tier = tier
            self.wave = wave
            self.server = server
            self.schema = schema
            self.expanded = expanded
            self.contracted = contracted
            self.target = target
            self.state = state
            self.next_window = next_window
            self.error = error
            self.alembic = alembic
            self.throttled = throttled
            self.drift = drift
        }

        // Absent optionals are written as `null` (docs/cli.md: "null where there is none").
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(tier, forKey: .tier)
            try container.encode(wave, forKey: .wave)
            try container.encode(server, forKey: .server)
            try container.encode(schema, forKey: .schema)
            try container.encode(expanded, forKey: .expanded)
            try container.encode(contracted, forKey: .contracted)
            try container.encode(target, forKey: .target)
            try container.encode(state, forKey: .state)
            try container.encode(next_window, forKey: .next_window)
            try container.encode(error, forKey: .error)
            try container.encode(alembic, forKey: .alembic)
            try container.encode(throttled, forKey: .throttled)
            try container.encode(drift, forKey: .drift)
        }
    }

    public struct TierRow: Sendable, Codable, Hashable {
        public var name: String
        public var target: String?
        public var released: String?
        /// `idle`, `rolling`, `halted`, `paused` or `done`.
        public var state: String
        public var wave: String?
        public var failed: [String]
        /// What `release_when` waits for before it releases the target.
        public var release_waiting_on: String?

        public init(name: String, target: String?, released: String?, state: String, wave: String?, failed: [String], release_waiting_on: String? = nil) {
            self.name = name
            self.target = target
            self.released = released
            self.state = state
            self.wave = wave
            self.failed = failed
            self.release_waiting_on = release_waiting_on
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(target, forKey: .target)
            try container.encode(released, forKey: .released)
            try container.encode(state, forKey: .state)
            try container.encode(wave, forKey: .wave)
            try container.encode(failed, forKey: .failed)
            try container.encode(release_waiting_on, forKey: .release_waiting_on)
        }
    }

    public func database(_ name: String) -> DatabaseRow? { databases.first { $0.name == name } }
    public func tier(_ name: String) -> TierRow? { tiers.first { $0.name == name } }
}
