/// The keys each part of the manifest accepts (docs/manifest.md). Anything else is an error
/// that names the nearest of these.
enum ManifestKeys {
    static let top = ["fleet", "defaults", "windows", "databases", "discover", "waves", "release_when", "hooks"]
    static let hook = ["on", "tier", "phase", "run", "timeout"]
    static let releaseGate = ["clients", "settle"]
    static let fleet = [
        "name", "migrations", "pipeline", "state", "lease", "socket", "tracking_schema", "operators_group", "alembic", "lint", "require_plan_hash", "metrics",
    ]
    static let fleetLint = ["postgres_version"]
    static let fleetMetrics = ["listen", "per_database"]
    static let fleetAlembic = ["command", "url_env", "url_x", "url_scheme"]
    /// Keys a database entry, `defaults` and a discover `template` share.
    static let settings = [
        "tier", "dsn", "password_file", "schema", "labels", "window",
        "lock_timeout", "statement_timeout", "connect_timeout", "retry",
        "max_parallel", "max_per_server", "expand", "contract", "alembic", "throttle",
    ]
    static let databaseAlembic = ["version_table", "version_table_schema"]
    static let database = ["name"] + settings
    static let retry = ["attempts", "min_backoff", "max_backoff"]
    static let throttle = ["max_replica_lag", "autovacuum", "max_lock_waiters", "target_batch_duration", "max_wait"]
    static let window = ["days", "start", "duration", "timezone", "always"]
    static let wave = ["name", "select", "max_parallel", "soak", "failure_budget"]
    static let select = ["names", "labels", "percent", "all"]
    static let discover = ["tier", "dsn", "password_file", "query", "template", "every"]
}
