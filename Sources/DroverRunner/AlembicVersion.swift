import DroverPostgres

/// Reads Alembic's `alembic_version` table (SPEC §4): one row per head.
enum AlembicVersion {
    static func read(_ connection: PostgresConnection, schema: String?) async throws(PostgresError) -> [String]? {
        let table = "\(SQLQuoting.identifier(schema ?? "public")).alembic_version"
        guard try await connection.query("SELECT to_regclass($1) IS NOT NULL", [table]).scalar == "t" else { return nil }
        return try await connection.query("SELECT version_num FROM \(table) ORDER BY version_num").rows.compactMap { $0.first ?? nil }
    }
}
