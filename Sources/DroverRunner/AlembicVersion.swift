import DroverPostgres

/// Where a database keeps its Alembic revision: Alembic's `version_table` in its
/// `version_table_schema` (docs/tracking.md; configurable per database, issue #6).
public struct AlembicVersionTable: Sendable, Hashable, CustomStringConvertible {
    public var schema: String
    public var table: String

    public init(schema: String, table: String) {
        self.schema = schema
        self.table = table
    }

    var qualified: String { "\(SQLQuoting.identifier(schema)).\(SQLQuoting.identifier(table))" }
    public var description: String { "\(schema).\(table)" }
}

/// Reads Alembic's version table: one row per head.
enum AlembicVersion {
    /// The heads, or `nil` when the database has no such table.
    static func read(_ connection: PostgresConnection, table: AlembicVersionTable) async throws(PostgresError) -> [String]? {
        guard try await connection.query("SELECT to_regclass($1) IS NOT NULL", [table.qualified]).scalar == "t" else { return nil }
        return try await connection.query("SELECT version_num FROM \(table.qualified) ORDER BY version_num").rows.compactMap { $0.first ?? nil }
    }
}
