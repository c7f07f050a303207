import DroverCore

/// What running one phase did.
public struct PhaseOutcome: Sendable, Hashable {
    public var revision: String
    public var phase: Phase
    /// The database already had it (after a crash, or another runner did it).
    public var alreadyApplied: Bool
    /// Rows affected, for a backfill the total over all its batches and runs.
    public var rows: Int
    public var statements: Int
    public var attempts: Int
    public var duration: Duration
    /// Server notices, e.g. "relation already exists, skipping".
    public var notices: [String]
    /// What a helper program (Alembic) printed, passwords removed.
    public var output: String? = nil
    /// The Alembic version table after the phase (Alembic projects).
    public var alembicVersions: [String]? = nil
    /// The schema fingerprint right after the phase, when asked for and readable.
    public var snapshot: SchemaSnapshot? = nil
    /// Revisions the same `alembic upgrade` run applied and recorded besides this
    /// one (a stretch, `AlembicStretch`), in the order Alembic applied them.
    public var appliedTogether: [String] = []
    /// A backfill's batch sizes in order (they adapt with `throttle.target_batch_duration`).
    public var batchSizes: [Int] = []
}
