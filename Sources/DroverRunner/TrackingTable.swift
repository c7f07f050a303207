import DroverCore
import DroverPostgres
import Foundation

/// `<tracking_schema>.revisions` inside a managed database (docs/tracking.md): the database
/// is the truth about its own revision. Every write here runs on the caller's
/// connection, so a phase's DDL and its row commit in one transaction.
/// The rows of one database (or schema tenant) in `<tracking_schema>.revisions`
/// (docs/tracking.md): the database is the truth about its own revision. Every
/// write here runs on the caller's connection, so a phase's DDL and its row commit
/// in one transaction.
///
/// Two layouts: a table without a `schema` column holds one database's rows (a
/// whole database's, or a schema tenant's own `<tracking_schema>_<schema>.revisions`
/// of drover 0.4 and earlier); the shared table of a database with schema tenants
/// has a `schema` column and holds every tenant's rows, `''` being the whole
/// database's (`TrackingLayout.swift` finds and moves them).
public struct TrackingTable: Sendable, Hashable {
    public let schema: String
    /// Whose rows these are in a shared table; `nil` when the table has no `schema` column.
    public let tenant: String?

    public init(schema: String, tenant: String? = nil) {
        self.schema = schema
        self.tenant = tenant
    }

    var table: String { "\(SQLQuoting.identifier(schema)).revisions" }

    /// The primary key, as `ON CONFLICT` names it.
    private var key: String { tenant == nil ? "revision, phase" : "schema, revision, phase" }

    /// ` AND schema = $n` in a shared table, where `n` is the parameter `parameters` appends.
    private func only(_ index: Int) -> String { tenant == nil ? "" : " AND schema = $\(index)" }

    /// The statement's parameters, the tenant last.
    private func parameters(_ values: [String?]) -> [String?] { tenant.map { values + [$0] } ?? values }

    /// An INSERT's column list and values with the tenant's `schema` first.
    private func inserting(_ columns: String, _ values: String, tenantAt index: Int) -> String {
        tenant == nil ? "(\(columns)) VALUES (\(values))" : "(schema, \(columns)) VALUES ($\(index), \(values))"
    }

    /// Every row, oldest first; `records(from:)` reads the result.
    var readStatement: PipelineStatement {
        let filter = tenant == nil ? "" : " WHERE schema = $1"
        return PipelineStatement("SELECT \(Self.columns) FROM \(table)\(filter) ORDER BY started_at, revision, phase", parameters([]), reusable: true)
    }

    static func records(from result: QueryResult) -> [TrackingRecord] {
        result.rows.compactMap { record(from: $0[...]) }
    }

    /// Every row of this database (or tenant).
    public func records(_ connection: PostgresConnection) async throws(PostgresError) -> [TrackingRecord] {
        Self.records(from: try await connection.query(readStatement))
    }

    public func record(_ connection: PostgresConnection, revision: String, phase: Phase) async throws(PostgresError) -> TrackingRecord? {
        try await query(connection, where: "WHERE revision = $1 AND phase = $2\(only(3))", parameters([revision, phase.rawValue])).first
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
            INSERT INTO \(table) AS r \(inserting(
                "revision, phase, status, checksum, started_at, finished_at, rows_affected, statements_applied, statements_total, applied_by",
                "$1, $2, 'applied', $3, now(), clock_timestamp(), $4, $5, $5, $6", tenantAt: 7))
            ON CONFLICT (\(key)) DO UPDATE
               SET status = 'applied', checksum = EXCLUDED.checksum, finished_at = clock_timestamp(),
                   rows_affected = r.rows_affected + EXCLUDED.rows_affected,
                   statements_applied = EXCLUDED.statements_applied, statements_total = EXCLUDED.statements_total,
                   applied_by = EXCLUDED.applied_by, error = NULL
            """, parameters([revision, phase.rawValue, checksum, String(rows), String(statements), actor]), reusable: true)
    }

    /// Records a backfill batch in the batch's own transaction: progress while rows
    /// keep coming, `applied` with the batch that found nothing left. Answers the
    /// backfill's total over all its batches and runs.
    func recordBatchStatement(revision: String, checksum: String, rows: Int, finished: Bool, by actor: String) -> PipelineStatement {
        let status = finished ? "applied" : "running"
        return PipelineStatement(
            """
            INSERT INTO \(table) AS r \(inserting(
                "revision, phase, status, checksum, started_at, finished_at, rows_affected, applied_by",
                "$1, 'backfill', $2, $3, now(), CASE WHEN $2 = 'applied' THEN clock_timestamp() END, $4, $5", tenantAt: 6))
            ON CONFLICT (\(key)) DO UPDATE
               SET status = EXCLUDED.status, checksum = EXCLUDED.checksum, finished_at = EXCLUDED.finished_at,
                   rows_affected = r.rows_affected + EXCLUDED.rows_affected, applied_by = EXCLUDED.applied_by, error = NULL
            RETURNING rows_affected
            """, parameters([revision, status, checksum, String(rows), actor]), reusable: true)
    }

    /// Starts (or restarts) a no-transaction phase: the row says `running` before
    /// any statement runs, so a crash is visible and resumable.
    public func markRunning(
        _ connection: PostgresConnection, revision: String, phase: Phase, checksum: String, statements: Int, by actor: String
    ) async throws(PostgresError) {
        try await connection.query(
            """
            INSERT INTO \(table) AS r \(inserting(
                "revision, phase, status, checksum, statements_total, applied_by", "$1, $2, 'running', $3, $4, $5", tenantAt: 6))
            ON CONFLICT (\(key)) DO UPDATE
               SET status = 'running', checksum = EXCLUDED.checksum, statements_total = EXCLUDED.statements_total,
                   applied_by = EXCLUDED.applied_by, error = NULL, finished_at = NULL,
                   statements_applied = CASE WHEN r.status IN ('running', 'failed') THEN r.statements_applied ELSE 0 END
            """, parameters([revision, phase.rawValue, checksum, String(statements), actor]))
    }

    public func markProgress(_ connection: PostgresConnection, revision: String, phase: Phase, statementsApplied: Int) async throws(PostgresError) {
        try await connection.query(
            "UPDATE \(table) SET statements_applied = $3 WHERE revision = $1 AND phase = $2\(only(4))",
            parameters([revision, phase.rawValue, String(statementsApplied)]))
    }

    public func markFinished(_ connection: PostgresConnection, revision: String, phase: Phase) async throws(PostgresError) {
        try await connection.query(
            "UPDATE \(table) SET status = 'applied', finished_at = clock_timestamp(), error = NULL WHERE revision = $1 AND phase = $2\(only(3))",
            parameters([revision, phase.rawValue]))
    }

    /// Records why a phase that could not roll back (no-transaction, or a backfill
    /// with committed batches) stopped. Only updates an existing row.
    public func markFailed(_ connection: PostgresConnection, revision: String, phase: Phase, error: String) async throws(PostgresError) {
        try await connection.query(
            "UPDATE \(table) SET status = 'failed', error = $3, finished_at = clock_timestamp() WHERE revision = $1 AND phase = $2\(only(4))",
            parameters([revision, phase.rawValue, error]))
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
                "UPDATE \(table) SET status = 'reverted', finished_at = clock_timestamp() WHERE revision = $1 AND phase IN ('expand', 'backfill')\(only(2))",
                parameters([revision])),
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
            INSERT INTO \(table) AS r \(inserting(
                "revision, phase, status, checksum, started_at, finished_at, applied_by, note, error",
                "$1, $2, $3, $4, now(), clock_timestamp(), $5, $6, $7", tenantAt: 8))
            ON CONFLICT (\(key)) DO UPDATE
               SET status = EXCLUDED.status, checksum = EXCLUDED.checksum, started_at = EXCLUDED.started_at,
                   finished_at = EXCLUDED.finished_at, applied_by = EXCLUDED.applied_by, note = EXCLUDED.note, error = EXCLUDED.error
            """, parameters([revision, phase.rawValue, status, checksum, actor, note, error]))
    }

    /// Records a phase as applied without running it (`droverctl stamp`).
    public func markStamped(
        _ connection: PostgresConnection, revision: String, phase: Phase, checksum: String?, by actor: String, note: String
    ) async throws(PostgresError) {
        try await connection.query(
            """
            INSERT INTO \(table) AS r \(inserting(
                "revision, phase, status, checksum, started_at, finished_at, applied_by, note",
                "$1, $2, 'stamped', $3, clock_timestamp(), clock_timestamp(), $4, $5", tenantAt: 6))
            ON CONFLICT (\(key)) DO UPDATE
               SET status = 'stamped', checksum = EXCLUDED.checksum, finished_at = clock_timestamp(),
                   applied_by = EXCLUDED.applied_by, note = EXCLUDED.note, error = NULL
            """, parameters([revision, phase.rawValue, checksum, actor, note]))
    }
}
