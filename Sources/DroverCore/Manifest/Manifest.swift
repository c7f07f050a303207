/// The fleet manifest (docs/manifest.md), merged from every `fleet.d/*.yaml` file and with
/// defaults applied: what the daemon and `droverctl check` work from.
public struct Manifest: Sendable {
    public var fleet: FleetSettings
    public var windows: [String: MaintenanceWindow]
    /// Databases listed by name, in file order.
    public var databases: [DatabaseSpec]
    public var discover: [DiscoverSpec]
    /// Waves per tier; a tier without an entry moves as one wave holding everything.
    public var waves: [String: [WaveSpec]]
    /// The `defaults` layer, for databases created later (discovery).
    public var defaults: SettingsLayer = SettingsLayer()
    /// `release_when`, per tier.
    public var releaseWhen: [String: ReleaseGate] = [:]
    /// `hooks`, in the order written (a phase's before-phase hooks run in that order).
    public var hooks: [Hook] = []
    /// The files read, in the order they were merged.
    public var files: [String]

    public func database(named name: String) -> DatabaseSpec? {
        databases.first { $0.name == name }
    }

    /// The waves of a tier, the implicit single wave when none are configured.
    public func waves(ofTier tier: String) -> [WaveSpec] {
        waves[tier] ?? [WaveSpec.everything]
    }
}

public struct FleetSettings: Sendable, Hashable {
    public var name: String
    /// Absolute path of the revision repository.
    public var migrations: String
    /// Tiers in promotion order.
    public var pipeline: [String]
    public var state: String?
    /// How long a leader's lease on a PostgreSQL state store lasts without renewal.
    public var lease: Duration
    public var socket: String?
    public var trackingSchema: String
    public var operatorsGroup: String
    /// How to run an Alembic project's `alembic` (when `migrations` is one).
    public var alembic: AlembicCommand
    /// `fleet.lint`: what `droverctl check` assumes of the servers.
    public var lint: LintSettings
    /// Tiers whose promotion needs the `plan_hash` of a reviewed plan.
    public var requirePlanHash: [String]
    /// `fleet.metrics`: where Prometheus metrics are served; off when `nil`.
    public var metrics: MetricsSettings?

    public init(
        name: String, migrations: String, pipeline: [String] = FleetSettings.defaultPipeline, state: String? = nil,
        lease: Duration = FleetSettings.defaultLease, socket: String? = nil, trackingSchema: String = FleetSettings.defaultTrackingSchema,
        operatorsGroup: String = FleetSettings.defaultOperatorsGroup, alembic: AlembicCommand = AlembicCommand(), lint: LintSettings = LintSettings(),
        requirePlanHash: [String] = [], metrics: MetricsSettings? = nil
    ) {
        self.metrics = metrics
        self.alembic = alembic
        self.lint = lint
        self.requirePlanHash = requirePlanHash
        self.name = name
        self.migrations = migrations
        self.pipeline = pipeline
        self.state = state
        self.lease = lease
        self.socket = socket
        self.trackingSchema = trackingSchema
        self.operatorsGroup = operatorsGroup
    }

    public static let defaultPipeline = ["preview", "production", "tenants"]
    public static let defaultTrackingSchema = "drover"
    public static let defaultOperatorsGroup = "drover"
    public static let defaultLease: Duration = .seconds(15)
}

/// `fleet.metrics: {listen, per_database}`.
public struct MetricsSettings: Sendable, Hashable {
    public enum Listen: Sendable, Hashable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        /// A Unix socket path (absolute).
        case unix(String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): path
            }
        }
    }

    public var listen: Listen
    /// Adds `drover_database_state{database,tier,state}`: one series per database.
    public var perDatabase: Bool

    public init(listen: Listen, perDatabase: Bool = false) {
        self.listen = listen
        self.perDatabase = perDatabase
    }

    /// `"127.0.0.1:9187"`, `"[::1]:9187"` or an absolute path; `nil` otherwise.
    public static func listen(parsing text: String) -> Listen? {
        if text.hasPrefix("/") { return .unix(text) }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : .tcp(host: host, port: port)
    }
}

/// `fleet.alembic`: the project's own `alembic` and how it learns the database.
/// The URL drover hands over never holds a password: that goes through the
/// environment (`PGPASSWORD`), which libpq (psycopg2, psycopg) reads.
public struct AlembicCommand: Sendable, Hashable {
    /// The program and leading arguments, e.g. `[".venv/bin/alembic"]` or
    /// `["poetry", "run", "alembic"]`.
    public var command: [String]
    /// The environment variable the URL is put in (the cookbook's `DATABASE_URL`).
    public var urlVariable: String?
    /// When set, the URL is also passed as `-x NAME=URL`, for an env.py that reads
    /// `context.get_x_argument()`.
    public var urlArgument: String?
    /// The URL's scheme, which picks SQLAlchemy's driver: `postgresql` is the
    /// installed SQLAlchemy's default (psycopg2 before 2.1, psycopg from 2.1);
    /// `postgresql+psycopg2` or `postgresql+psycopg` name one.
    public var urlScheme: String

    public init(command: [String] = ["alembic"], urlVariable: String? = "DATABASE_URL", urlArgument: String? = nil, urlScheme: String = "postgresql") {
        self.command = command
        self.urlVariable = urlVariable
        self.urlArgument = urlArgument
        self.urlScheme = urlScheme
    }
}

/// When a phase may start.
public enum WindowPolicy: String, Sendable, Hashable, CaseIterable {
    /// Whenever the scheduler gets to it.
    case anytime
    /// Only inside the database's maintenance window.
    case inWindow = "in_window"
}

/// Retries of a phase after a lock timeout or a lost connection (docs/states.md).
public struct RetryPolicy: Sendable, Hashable {
    public var attempts: Int
    public var minBackoff: Duration
    public var maxBackoff: Duration

    public init(attempts: Int = 6, minBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(120)) {
        self.attempts = attempts
        self.minBackoff = minBackoff
        self.maxBackoff = maxBackoff
    }
}

/// Per-database settings after `defaults` and built-in defaults are applied.
public struct DatabaseSettings: Sendable, Hashable {
    public var lockTimeout: Duration = .seconds(2)
    public var statementTimeout: Duration = .seconds(15 * 60)
    public var connectTimeout: Duration = .seconds(10)
    public var retry = RetryPolicy()
    public var maxParallel = 4
    public var maxPerServer = 2
    public var expand: WindowPolicy = .anytime
    public var contract: WindowPolicy = .inWindow
    /// Alembic's `version_table` and `version_table_schema` for this database: where
    /// status and adopt read its Alembic revision. The schema defaults to the
    /// tenant schema, else `public`.
    public var alembicVersionTable = "alembic_version"
    public var alembicVersionTableSchema: String?
    /// What backfills wait for between batches (`throttle`).
    public var throttle = Throttle()

    public init() {}
}

/// One database (or one tenant schema inside a shared database).
public struct DatabaseSpec: Sendable, Hashable {
    public var name: String
    public var tier: String
    /// libpq conninfo: URI, key=value or `service=NAME`. Never holds a password.
    public var dsn: String
    public var passwordFile: String?
    /// For schema tenants: the schema its phases run in (search_path).
    public var schema: String?
    public var labels: [String: String]
    public var window: String
    public var settings: DatabaseSettings
    public var location: SourceLocation?

    public init(
        name: String, tier: String, dsn: String, passwordFile: String? = nil, schema: String? = nil,
        labels: [String: String] = [:], window: String, settings: DatabaseSettings = DatabaseSettings(),
        location: SourceLocation? = nil
    ) {
        self.name = name
        self.tier = tier
        self.dsn = dsn
        self.passwordFile = passwordFile
        self.schema = schema
        self.labels = labels
        self.window = window
        self.settings = settings
        self.location = location
    }
}

/// A query that finds tenant databases at run time.
public struct DiscoverSpec: Sendable, Hashable {
    public var tier: String
    public var dsn: String
    public var passwordFile: String?
    public var query: String
    /// The new database's keys; `{column}` in a string is replaced by that column of
    /// the query's row (at least `{name}`).
    public var template: SettingsLayer
    public var every: Duration
    public var location: SourceLocation?

    public init(tier: String, dsn: String, passwordFile: String?, query: String, template: SettingsLayer, every: Duration, location: SourceLocation?) {
        self.tier = tier
        self.dsn = dsn
        self.passwordFile = passwordFile
        self.query = query
        self.template = template
        self.every = every
        self.location = location
    }
}

/// A set of optional database keys: one layer of defaults, a database entry, or a
/// discover template. `resolved(over:)` stacks layers.
public struct SettingsLayer: Sendable, Hashable {
    public var tier: String?
    public var dsn: String?
    public var passwordFile: String?
    public var schema: String?
    public var labels: [String: String]?
    public var window: String?
    public var lockTimeout: Duration?
    public var statementTimeout: Duration?
    public var connectTimeout: Duration?
    public var retryAttempts: Int?
    public var retryMinBackoff: Duration?
    public var retryMaxBackoff: Duration?
    public var maxParallel: Int?
    public var maxPerServer: Int?
    public var expand: WindowPolicy?
    public var contract: WindowPolicy?
    public var alembicVersionTable: String?
    public var alembicVersionTableSchema: String?
    public var throttle: Throttle?

    public init() {}

    /// `self` on top of `lower`: every key set here wins.
    public func overriding(_ lower: SettingsLayer) -> SettingsLayer {
        var result = lower
        if let tier { result.tier = tier }
        if let dsn { result.dsn = dsn }
        if let passwordFile { result.passwordFile = passwordFile }
        if let schema { result.schema = schema }
        if let labels { result.labels = (lower.labels ?? [:]).merging(labels) { $1 } }
        if let window { result.window = window }
        if let lockTimeout { result.lockTimeout = lockTimeout }
        if let statementTimeout { result.statementTimeout = statementTimeout }
        if let connectTimeout { result.connectTimeout = connectTimeout }
        if let retryAttempts { result.retryAttempts = retryAttempts }
        if let retryMinBackoff { result.retryMinBackoff = retryMinBackoff }
        if let retryMaxBackoff { result.retryMaxBackoff = retryMaxBackoff }
        if let maxParallel { result.maxParallel = maxParallel }
        if let maxPerServer { result.maxPerServer = maxPerServer }
        if let expand { result.expand = expand }
        if let contract { result.contract = contract }
        if let alembicVersionTable { result.alembicVersionTable = alembicVersionTable }
        if let alembicVersionTableSchema { result.alembicVersionTableSchema = alembicVersionTableSchema }
        if let throttle { result.throttle = throttle }
        return result
    }

    /// The settings with built-in defaults for every key not set.
    public var settings: DatabaseSettings {
        var settings = DatabaseSettings()
        if let lockTimeout { settings.lockTimeout = lockTimeout }
        if let statementTimeout { settings.statementTimeout = statementTimeout }
        if let connectTimeout { settings.connectTimeout = connectTimeout }
        if let retryAttempts { settings.retry.attempts = retryAttempts }
        if let retryMinBackoff { settings.retry.minBackoff = retryMinBackoff }
        if let retryMaxBackoff { settings.retry.maxBackoff = retryMaxBackoff }
        if let maxParallel { settings.maxParallel = maxParallel }
        if let maxPerServer { settings.maxPerServer = maxPerServer }
        if let expand { settings.expand = expand }
        if let contract { settings.contract = contract }
        if let alembicVersionTable { settings.alembicVersionTable = alembicVersionTable }
        if let alembicVersionTableSchema { settings.alembicVersionTableSchema = alembicVersionTableSchema }
        if let throttle { settings.throttle = throttle }
        return settings
    }
}
