import DroverCore
import DroverPostgres
import Foundation

/// Reads a `SchemaSnapshot` from a database (SPEC §7). With `search_path` set to the
/// managed schema, `pg_get_indexdef` and `pg_get_constraintdef` leave names
/// unqualified, so tenants in different schemas compare equal.
enum SchemaFingerprint {
    static func capture(_ connection: PostgresConnection, target: DatabaseTarget) async throws(PostgresError) -> SchemaSnapshot {
        // One round trip: the simple protocol takes several statements and returns
        // the last result, so the values are inlined as literals.
        let schemaFilter: String
        var setSearchPath = ""
        if let schema = target.schema {
            setSearchPath = "SET search_path TO \(SQLQuoting.identifier(schema));\n"
            schemaFilter = "n.nspname = \(SQLQuoting.literal(schema))"
        } else {
            // A whole database: every schema but the system ones and drover's own.
            let tracking = SQLQuoting.literal(target.trackingSchema)
            schemaFilter = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> \(tracking) AND n.nspname NOT LIKE \(tracking) || '\\_%'"
        }
        let qualified = target.schema == nil ? "CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END || " : ""
        let rows = try await connection.execute("""
            \(setSearchPath)SELECT 'column', \(qualified)c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                   pg_get_expr(d.adbin, d.adrelid), CASE WHEN a.attnotnull THEN 'f' ELSE 't' END, a.attnum
              FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
             WHERE c.relkind IN ('r', 'p') AND \(schemaFilter)
            UNION ALL
            SELECT 'index', \(qualified)t.relname, i.relname, pg_get_indexdef(i.oid), NULL, NULL, 0
              FROM pg_index x
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_class t ON t.oid = x.indrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE \(schemaFilter)
            UNION ALL
            SELECT 'constraint', \(qualified)t.relname, c.conname, pg_get_constraintdef(c.oid), NULL, NULL, 0
              FROM pg_constraint c
              JOIN pg_class t ON t.oid = c.conrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE \(schemaFilter)
             ORDER BY 1, 2, 7
            """).rows
        // The next phase's prepare resets search_path (RESET ALL).
        let columns = rows.filter { $0[0] == "column" }.map { Array($0[1...5]) }
        let indexes = rows.filter { $0[0] == "index" }.map { Array($0[1...3]) }
        let constraints = rows.filter { $0[0] == "constraint" }.map { Array($0[1...3]) }

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
        for row in columns {
            guard let name = row[0], let column = row[1], let type = row[2] else { continue }
            var entry = table(name)
            entry.columns.append(SchemaSnapshot.Column(name: column, type: type, defaultValue: row[3], nullable: row[4] == "t"))
            tables[name] = entry
        }
        for row in indexes {
            guard let name = row[0], let index = row[1], let definition = row[2] else { continue }
            var entry = table(name)
            entry.indexes[index] = unqualified(definition)
            tables[name] = entry
        }
        for row in constraints {
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
