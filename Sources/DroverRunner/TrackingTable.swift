import DroverCore
import DroverPostgres
import Foundation

/// `<tracking_schema>.revisions` inside a managed database (docs/tracking.md): the database
/// is the truth about its own revision. Every write here runs on the caller's
/// connection, so a phase's DDL and its row commit in one transaction.
public struct TrackingTable: Sendable {
    public let schema: String

    public init(schema: String) { self.schema = schema }

    var table: String { "\(SQLQuoting.identifier(schema)).revisions" }

    /// Creates schema and table when missing (idempotent; callers hold the advisory
    /// lock, so two runners never race on the DDL).
    public func ensureExists(_ connection: PostgresConnection) async throws(PostgresError) {
        guard try await !exists(connection) else { return }
        try await connection.execute(
            """
            CREATE SCHEMA IF NOT EXISTS \(SQLQuoting.identifier(schema));
            CREATE TABLE IF NOT EXISTS \(table) (
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
                PRIMARY KEY (revision, phase)
            );
            COMMENT ON TABLE \(table) IS 'drover: one row per revision and phase applied to this database';
            """)
    }

    public func exists(_ connection: PostgresConnection) async throws(PostgresError) -> Bool {
        try await connection.query(existsStatement).scalar == "t"
    }

    var existsStatement: PipelineStatement { PipelineStatement("SELECT to_regclass($1) IS NOT NULL", ["\(table)"]) }

    /// Every row, oldest first; `records(from:)` reads the result.
    var readStatement: PipelineStatement {
        PipelineStatement("SELECT \(Self.columns) FROM \(table) ORDER BY started_at, revision, phase", reusable: true)
    }

    static func records(from result: QueryResult) -> [TrackingRecord] {
        result.rows.compactMap { record(from: $0[...]) }
    }

    /// Every row, or none when the table does not exist yet.
    public func records(_ connection: PostgresConnection) async throws(PostgresError) -> [TrackingRecord] {
        guard try await exists(connection) else { return [] }
        return try await query(connection, where: "", [])
    }

    public func record(_ connection: PostgresConnection, revision: String, phase: Phase) async throws(PostgresError) -> TrackingRecord? {
        try await query(connection, where: "WHERE revision = $1 AND phase = $2", [revision, phase.rawValue]).first
    }

    /// The columns `record(from:)` reads, in order.
    static let columns = """
        revision, phase, status, checksum,
        extract(epoch FROM started_at), extract(epoch FROM finished_at),
        rows_affected, statements_applied, statements_total, applied_by, error, note
        """

    private func query(_ connection: PostgresConnection, where clause: String, _ parameters: [String?]) async throws(PostgresError) -> [TrackingRecord] {
        let result = try await connection.query(
            "SELECT \(Self.columns) FROM \(table) \(clause) ORDER BY started_at, revision, phase", parameters)
        return Self.records(from: result)
    }

    /// A row of `columns` as a record.
    static func record(from row: ArraySlice<String?>) -> TrackingRecord? {
        let row = Array(row)
        guard row.count >= 12, let revision = row[0], let phase = row[1].flatMap(Phase.init), let status = row[2].flatMap(TrackingStatus.init) else {
            return nil
        }
        return TrackingRecord(
            revision: revision, phase: phase, status: status, checksum: row[3],
            startedAt: row[4].flatMap(Double.init).map(Date.init(timeIntervalSince1970:)),
            finishedAt: row[5].flatMap(Double.init).map(Date.init(timeIntervalSince1970:)),
            rowsAffected: row[6].flatMap { Int($0) } ?? 0,
            statementsApplied: row[7].flatMap { Int($0) } ?? 0,
            statementsTotal: row[8].flatMap { Int($0) } ?? 0,
            appliedBy: row[9] ?? "", error: row[10], note: row[11]
        )
    }

    /// Marks a phase applied; for transactional phases this goes with the phase's
    /// own COMMIT.
    func markAppliedStatement(revision: String, phase: Phase, checksum: String, rows: Int, statements: Int, by actor: String) -> PipelineStatement {
        PipelineStatement(
            """
            INSERT INTO \(table) AS r (revision, phase, status, checksum, started_at, finished_at, rows_affected, statements_applied, statements_total, applied_by)
            VALUES ($1, $2, 'applied', $3, now(), clock_timestamp(), $4, $5, $5, $6)
            ON CONFLICT (revision, phase) DO UPDATE
               SET status = 'applied', checksum = EXCLUDED.checksum, finished_at = clock_timestamp(),
                   rows_affected = r.rows_affected + EXCLUDED.rows_affected,
                   statements_applied = EXCLUDED.statements_applied, statements_total = EXCLUDED.statements_total,
                   applied_by = EXCLUDED.applied_by, error = NULL
            """, [revision, phase.rawValue, checksum, String(rows), String(statements), actor], reusable: true)
    }

    /// Records a backfill batch in the batch's own transaction: progress while rows
    /// keep coming, `applied` with the batch that found nothing left. Answers the
    /// backfill's total over all its batches and runs.
    func recordBatchStatement(revision: String, checksum: String, rows: Int, finished: Bool, by actor: String) -> PipelineStatement {
        let status = finished ? "applied" : "running"
        return PipelineStatement(
            """
            INSERT INTO \(table) AS r (revision, phase, status, checksum, started_at, finished_at, rows_affected, applied_by)
            VALUES ($1, 'backfill', $2, $3, now(), CASE WHEN $2 = 'applied' THEN clock_timestamp() END, $4, $5)
            ON CONFLICT (revision, phase) DO UPDATE
               SET status = EXCLUDED.status, checksum = EXCLUDED.checksum, finished_at = EXCLUDED.finished_at,
                   rows_affected = r.rows_affected + EXCLUDED.rows_affected, applied_by = EXCLUDED.applied_by, error = NULL
            RETURNING rows_affected
            """, [revision, status, checksum, String(rows), actor], reusable: true)
    }

    /// Starts (or restarts) a no-transaction phase: the row says `running` before
    /// any statement runs, so a crash is visible and resumable.
    public func markRunning(
        _ connection: PostgresConnection, revision: String, phase: Phase, checksum: String, statements: Int, by actor: String
    ) async throws(PostgresError) {
        try await connection.query(
            """
            INSERT INTO \(table) AS r (revision, phase, status, checksum, statements_total, applied_by)
            VALUES ($1, $2, 'running', $3, $4, $5)
            ON CONFLICT (revision, phase) DO UPDATE
               SET status = 'running', checksum = EXCLUDED.checksum, statements_total = EXCLUDED.statements_total,
                   applied_by = EXCLUDED.applied_by, error = NULL, finished_at = NULL,
                   statements_applied = CASE WHEN r.status IN ('running', 'failed') THEN r.statements_applied ELSE 0 END
            """, [revision, phase.rawValue, checksum, String(statements), actor])
    }

    public func markProgress(_ connection: PostgresConnection, revision: String, phase: Phase, statementsApplied: Int) async throws(PostgresError) {
        try await connection.query(
            "UPDATE \(table) SET statements_applied = $3 WHERE revision = $1 AND phase = $2",
            [revision, phase.rawValue, String(statementsApplied)])
    }

    public func markFinished(_ connection: PostgresConnection, revision: String, phase: Phase) async throws(PostgresError) {
        try await connection.query(
            "UPDATE \(table) SET status = 'applied', finished_at = clock_timestamp(), error = NULL WHERE revision = $1 AND phase = $2",
            [revision, phase.rawValue])
    }

    /// Records why a phase that could not roll back (no-transaction, or a backfill
    /// with committed batches) stopped. Only updates an existing row.
    public func markFailed(_ connection: PostgresConnection, revision: String, phase: Phase, error: String) async throws(PostgresError) {
        try await connection.query(
            "UPDATE \(table) SET status = 'failed', error = $3, finished_at = clock_timestamp() WHERE revision = $1 AND phase = $2",
            [revision, phase.rawValue, error])
    }

    /// After a revert: expand and backfill are `reverted`, and a `revert` row says when.
    public func markReverted(_ connection: PostgresConnection, revision: String, checksum: String, by actor: String) async throws(PostgresError) {
        for statement in markRevertedStatements(revision: revision, checksum: checksum, by: actor) {
            try await connection.query(statement)
        }
    }

    func markRevertedStatements(revision: String, checksum: String, by actor: String) -> [PipelineStatement] {
        [
            PipelineStatement(
                "UPDATE \(table) SET status = 'reverted', finished_at = clock_timestamp() WHERE revision = $1 AND phase IN ('expand', 'backfill')",
                [revision]),
            markAppliedStatement(revision: revision, phase: .revert, checksum: checksum, rows: 0, statements: 0, by: actor),
        ]
    }

    /// Records the result of a phase run by another program (Alembic): `applied` or
    /// `failed`, with its checksum, a note or an error.
    public func upsert(
        _ connection: PostgresConnection, revision: String, phase: Phase, status: String, checksum: String?, by actor: String, note: String?, error: String?
    ) async throws(PostgresError) {
        try await connection.query(
            """
            INSERT INTO \(table) AS r (revision, phase, status, checksum, started_at, finished_at, applied_by, note, error)
            VALUES ($1, $2, $3, $4, now(), clock_timestamp(), $5, $6, $7)
            ON CONFLICT (revision, phase) DO UPDATE
               SET status = EXCLUDED.status, checksum = EXCLUDED.checksum, started_at = EXCLUDED.started_at,
                   finished_at = EXCLUDED.finished_at, applied_by = EXCLUDED.applied_by, note = EXCLUDED.note, error = EXCLUDED.error
            """, [revision, phase.rawValue, status, checksum, actor, note, error])
    }

    /// Records a phase as applied without running it (`droverctl stamp`).
    public func markStamped(
        _ connection: PostgresConnection, revision: String, phase: Phase, checksum: String?, by actor: String, note: String
    ) async throws(PostgresError) {
        try await connection.query(
            """
            INSERT INTO \(table) AS r (revision, phase, status, checksum, started_at, finished_at, applied_by, note)
            VALUES ($1, $2, 'stamped', $3, clock_timestamp(), clock_timestamp(), $4, $5)
            ON CONFLICT (revision, phase) DO UPDATE
               SET status = 'stamped', checksum = EXCLUDED.checksum, finished_at = clock_timestamp(),
                   applied_by = EXCLUDED.applied_by, note = EXCLUDED.note, error = NULL
            """, [revision, phase.rawValue, checksum, actor, note])
    }
}
