import DroverCore
import DroverPostgres
import Foundation

/// Reads a `SchemaSnapshot` from a database (SPEC §7). With `search_path` set to the
/// managed schema, `pg_get_indexdef` and `pg_get_constraintdef` leave names
/// unqualified, so tenants in different schemas compare equal.
enum SchemaFingerprint {
    static func capture(_ connection: PostgresConnection, target: DatabaseTarget) async throws(PostgresError) -> SchemaSnapshot {
        let schemaFilter: String
        var parameters: [String?] = []
        if let schema = target.schema {
            try await connection.execute("SET search_path TO \(SQLQuoting.identifier(schema))")
            schemaFilter = "n.nspname = $1"
            parameters = [schema]
        } else {
            // A whole database: every schema but the system ones and drover's own.
            schemaFilter = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> $1 AND n.nspname NOT LIKE $1 || '\\_%'"
            parameters = [target.trackingSchema]
        }
        let qualified = target.schema == nil ? "CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END || " : ""
        let columns = try await connection.query("""
            SELECT \(qualified)c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                   pg_get_expr(d.adbin, d.adrelid), NOT a.attnotnull
              FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
             WHERE c.relkind IN ('r', 'p') AND \(schemaFilter)
             ORDER BY 1, a.attnum
            """, parameters)
        let indexes = try await connection.query("""
            SELECT \(qualified)t.relname, i.relname, pg_get_indexdef(i.oid)
              FROM pg_index x
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_class t ON t.oid = x.indrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE \(schemaFilter)
            """, parameters)
        let constraints = try await connection.query("""
            SELECT \(qualified)t.relname, c.conname, pg_get_constraintdef(c.oid)
              FROM pg_constraint c
              JOIN pg_class t ON t.oid = c.conrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE \(schemaFilter)
            """, parameters)
        if target.schema != nil { try await connection.execute("RESET search_path") }

        // pg_get_indexdef always qualifies the table; drop the tenant's own schema so
        // that tenants in different schemas (and whole databases, in public) compare equal.
        func unqualified(_ definition: String) -> String {
            let schema = target.schema ?? "public"
            var text = definition
            for prefix in [schema, SQLQuoting.identifier(schema)] {
                for keyword in [" ON ", " REFERENCES "] {
                    text = text.replacingOccurrences(of: keyword + prefix + ".", with: keyword)
                }
            }
            return text
        }
        var tables: [String: SchemaSnapshot.Table] = [:]
        func table(_ name: String) -> SchemaSnapshot.Table {
            tables[name] ?? SchemaSnapshot.Table(name: name, columns: [], indexes: [:], constraints: [:])
        }
        for row in columns.rows {
            guard let name = row[0], let column = row[1], let type = row[2] else { continue }
            var entry = table(name)
            entry.columns.append(SchemaSnapshot.Column(name: column, type: type, defaultValue: row[3], nullable: row[4] == "t"))
            tables[name] = entry
        }
        for row in indexes.rows {
            guard let name = row[0], let index = row[1], let definition = row[2] else { continue }
            var entry = table(name)
            entry.indexes[index] = unqualified(definition)
            tables[name] = entry
        }
        for row in constraints.rows {
            guard let name = row[0], let constraint = row[1], let definition = row[2] else { continue }
            var entry = table(name)
            entry.constraints[constraint] = unqualified(definition)
            tables[name] = entry
        }
        return SchemaSnapshot(tables: tables)
    }
}

extension PhaseRunner {
    /// The database's schema fingerprint, for drift detection.
    public func fingerprint(_ session: RunnerSession) async throws(RunnerError) -> SchemaSnapshot {
        do {
            let connection = try await session.connect()
            return try await SchemaFingerprint.capture(connection, target: session.target)
        } catch {
            if error.isConnectionProblem { await session.reset() }
            throw .connectionFailed(database: session.target.name, attempts: 1, error: error)
        }
    }
}
