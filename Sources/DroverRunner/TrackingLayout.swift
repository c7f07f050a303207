import DroverCore
import DroverPostgres

/// Which table holds a database's (or schema tenant's) rows, and moving a schema
/// tenant's rows into its database's shared table (docs/tracking.md).
///
/// Schema tenants of one database share `<tracking_schema>.revisions` with a
/// `schema` column. A tenant still tracked in its own `<tracking_schema>_<schema>`
/// (drover 0.4 and earlier) is read there, and its rows move to the shared table in
/// one transaction at its next phase or stamp, under its advisory lock: the rows as
/// they were, `running` and `failed` ones included; its own schema is dropped when
/// nothing else is in it. Where `<tracking_schema>.revisions` already tracks the
/// database as a whole (no `schema` column), its tenants keep their own tables.
public struct TrackingLayout: Sendable, Equatable {
    /// `<tracking_schema>.revisions` exists.
    var sharedExists = false
    /// ... with a `schema` column.
    var sharedHasTenants = false
    /// The tenant's own `<tracking_schema>_<schema>.revisions` exists.
    var ownExists = false

    /// One row: what exists of the tables `target` may be tracked in.
    static func probe(_ target: DatabaseTarget) -> PipelineStatement {
        PipelineStatement(
            """
            SELECT to_regclass($1) IS NOT NULL,
                   EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'schema' AND NOT attisdropped),
                   to_regclass($2) IS NOT NULL
            """, [shared(target).table, own(target).table], reusable: true)
    }

    init(probed result: QueryResult) {
        let row = result.rows.first ?? []
        func flag(_ index: Int) -> Bool { row.count > index && row[index] == "t" }
        (sharedExists, sharedHasTenants, ownExists) = (flag(0), flag(1), flag(2))
    }

    init(sharedExists: Bool, sharedHasTenants: Bool, ownExists: Bool) {
        (self.sharedExists, self.sharedHasTenants, self.ownExists) = (sharedExists, sharedHasTenants, ownExists)
    }

    /// The table holding `target`'s rows as things are; `nil` when none does yet.
    func existing(for target: DatabaseTarget) -> TrackingTable? {
        guard target.schema != nil else {
            return sharedExists ? TrackingTable(schema: target.fleetTrackingSchema, tenant: sharedHasTenants ? "" : nil) : nil
        }
        if ownExists { return Self.own(target) }
        return sharedHasTenants ? Self.shared(target) : nil
    }

    /// Where `target`'s rows belong: a whole database's where they are (or a new
    /// table without `schema` column), a tenant's in the shared table unless the
    /// database is tracked as a whole already.
    func destination(for target: DatabaseTarget) -> TrackingTable {
        if let existing = existing(for: target), target.schema == nil || existing.tenant != nil { return existing }
        if target.schema != nil, sharedExists, !sharedHasTenants { return Self.own(target) }
        return target.schema == nil ? TrackingTable(schema: target.fleetTrackingSchema) : Self.shared(target)
    }

    /// Whether `table` (the destination) is still to be made.
    func lacks(_ table: TrackingTable, for target: DatabaseTarget) -> Bool {
        table.tenant == nil ? existing(for: target) != table : !sharedHasTenants
    }

    /// The tenant's rows are in its own table and belong in the shared one.
    func movesRows(of target: DatabaseTarget) -> Bool { target.schema != nil && ownExists && destination(for: target) != Self.own(target) }

    /// Where the rows of `target` are once it has any, the usual case: the read that
    /// goes with the lock (`PhaseRunner`).
    static func expected(for target: DatabaseTarget) -> TrackingTable {
        target.schema == nil ? TrackingTable(schema: target.fleetTrackingSchema) : shared(target)
    }

    static func shared(_ target: DatabaseTarget) -> TrackingTable { TrackingTable(schema: target.fleetTrackingSchema, tenant: target.schema ?? "") }
    static func own(_ target: DatabaseTarget) -> TrackingTable { TrackingTable(schema: target.trackingSchema) }
}

extension TrackingTable {
    /// The table holding `target`'s rows, changing nothing; `nil` when it has none yet.
    public static func find(for target: DatabaseTarget, on connection: PostgresConnection) async throws(PostgresError) -> TrackingTable? {
        TrackingLayout(probed: try await connection.query(TrackingLayout.probe(target))).existing(for: target)
    }

    /// The table `target`'s rows go to, created (and a tenant's rows moved to it)
    /// first. Callers hold `target`'s advisory lock; a transaction lock on the table's
    /// name keeps two tenants from creating it at once.
    public static func open(for target: DatabaseTarget, on connection: PostgresConnection) async throws -> TrackingTable {
        try await connection.transaction {
            let name = TrackingLayout.shared(target).table
            _ = try await connection.query(
                "SELECT pg_advisory_xact_lock($1::int, $2::int)",
                [String(DatabaseTarget.advisoryLockClass), String(Int32(truncatingIfNeeded: StableHash.fnv1a(name)))])
            let layout = TrackingLayout(probed: try await connection.query(TrackingLayout.probe(target)))
            let table = layout.destination(for: target)
            if layout.lacks(table, for: target) { try await table.create(connection) }
            if layout.movesRows(of: target) { try await table.moveRows(from: TrackingLayout.own(target), connection) }
            return table
        }
    }

    private func create(_ connection: PostgresConnection) async throws(PostgresError) {
        try await connection.execute(
            """
            CREATE SCHEMA IF NOT EXISTS \(SQLQuoting.identifier(schema));
            CREATE TABLE \(table) (
                \(tenant == nil ? "" : "schema              text        NOT NULL DEFAULT '',")
                revision            text        NOT NULL,
                phase               text        NOT NULL CHECK (phase IN ('expand', 'backfill', 'contract', 'revert')),
                status              text        NOT NULL CHECK (status IN ('running', 'applied', 'failed', 'reverted', 'stamped')),
                checksum            text,
                started_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
                finished_at         timestamptz,
                rows_affected       bigint      NOT NULL DEFAULT 0,
                statements_applied  integer     NOT NULL DEFAULT 0,
                statements_total    integer     NOT NULL DEFAULT 0,
                applied_by          text        NOT NULL,
                error               text,
                note                text,
                PRIMARY KEY (\(tenant == nil ? "" : "schema, ")revision, phase)
            );
            COMMENT ON TABLE \(table) IS \(SQLQuoting.literal(
                tenant == nil
                    ? "drover: one row per revision and phase applied to this database"
                    : "drover: one row per schema tenant, revision and phase applied ('' is the database as a whole)"));
            """)
    }

    /// The tenant's rows as they are into this (shared) table, in the caller's
    /// transaction; then its own table goes, and its schema when nothing else is in it.
    private func moveRows(from own: TrackingTable, _ connection: PostgresConnection) async throws(PostgresError) {
        let columns = "revision, phase, status, checksum, started_at, finished_at, rows_affected, statements_applied, statements_total, applied_by, error, note"
        _ = try await connection.query(
            "INSERT INTO \(table) (schema, \(columns)) SELECT $1, \(columns) FROM \(own.table) ON CONFLICT (schema, revision, phase) DO NOTHING",
            [tenant])
        try await connection.execute(
            """
            DROP TABLE \(own.table);
            DO $drover$ BEGIN
                DROP SCHEMA \(SQLQuoting.identifier(own.schema));
            EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
            END $drover$;
            """)
    }
}
