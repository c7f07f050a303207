import DroverPostgres

/// INVALID indexes left by a failed `CREATE INDEX CONCURRENTLY` (docs/revisions.md).
enum IndexCleanup {
    enum Validity { case valid, invalid, missing }

    /// Looks the index up in its schema, or in the first schema of the search_path.
    static func validity(_ connection: PostgresConnection, _ index: (schema: String?, name: String)) async throws(PostgresError) -> Validity {
        let result = try await connection.query(
            """
            SELECT i.indisvalid FROM pg_index i
              JOIN pg_class c ON c.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relname = $1 AND n.nspname = coalesce($2, current_schema())
            """, [index.name, index.schema])
        switch result.scalar {
        case "t": return .valid
        case "f": return .invalid
        default: return .missing
        }
    }

    static func drop(_ connection: PostgresConnection, _ index: (schema: String?, name: String)) async throws(PostgresError) {
        let name = (index.schema.map { SQLQuoting.identifier($0) + "." } ?? "") + SQLQuoting.identifier(index.name)
        try await connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(name)", cancellable: false)
    }

    static func dropIfInvalid(_ connection: PostgresConnection, _ index: (schema: String?, name: String)) async throws(PostgresError) {
        if try await validity(connection, index) == .invalid { try await drop(connection, index) }
    }
}
