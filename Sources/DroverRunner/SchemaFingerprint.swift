import DroverCore
import DroverPostgres
import Foundation

/// Reads a `SchemaSnapshot` from a database (SPEC §7). With `search_path` set to the
/// managed schema, `pg_get_indexdef` and `pg_get_constraintdef` leave names
/// unqualified, so tenants in different schemas compare equal.
enum SchemaFingerprint {
    static func capture(_ connection: PostgresConnection, target: DatabaseTarget) async throws(PostgresError) -> SchemaSnapshot {
        let results = try await connection.pipeline(statements(target)).get()
        return snapshot(from: results.last ?? QueryResult(), target: target)
    }

    /// The statements that read it (one round trip, or the end of a phase's last
    /// one); the last one's result is what `snapshot(from:target:)` reads.
    static func statements(_ target: DatabaseTarget) -> [PipelineStatement] {
        let relations: String
        var setSearchPath: [PipelineStatement] = []
        if let schema = target.schema {
            // A tenant's relations through pg_depend's index on the referenced
            // schema: pg_class has no index on relnamespace, and a scan of it for
            // every tenant's phase grows with the number of tenants.
            setSearchPath = [PipelineStatement("SET search_path TO \(SQLQuoting.identifier(schema))")]
            relations = """
                SELECT c.oid, c.relname AS name, c.relkind FROM pg_depend dep JOIN pg_class c ON c.oid = dep.objid
                 WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_namespace'::regclass
                   AND dep.refobjid = (SELECT oid FROM pg_namespace WHERE nspname = $1)
                """
        } else {
            // A whole database: every schema but the system ones and drover's own.
            let tracking = "$1::text"
            relations = """
                SELECT c.oid, CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END || c.relname AS name, c.relkind
                  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
                   AND n.nspname <> \(tracking) AND n.nspname NOT LIKE \(tracking) || '\\_%'
                """
        }
        return setSearchPath + [PipelineStatement("""
            WITH r AS MATERIALIZED (\(relations))
            SELECT 'column', r.name, a.attname, format_type(a.atttypid, a.atttypmod),
                   pg_get_expr(d.adbin, d.adrelid), CASE WHEN a.attnotnull THEN 'f' ELSE 't' END, a.attnum
              FROM r
              JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
              LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
             WHERE r.relkind IN ('r', 'p')
            UNION ALL
            SELECT 'index', r.name, i.relname, pg_get_indexdef(i.oid), NULL, NULL, 0
              FROM r JOIN pg_index x ON x.indrelid = r.oid JOIN pg_class i ON i.oid = x.indexrelid
            UNION ALL
            SELECT 'constraint', r.name, c.conname, pg_get_constraintdef(c.oid), NULL, NULL, 0
              FROM r JOIN pg_constraint c ON c.conrelid = r.oid
             ORDER BY 1, 2, 7
            """, [target.schema ?? target.trackingSchema], reusable: true)]
    }

    static func snapshot(from result: QueryResult, target: DatabaseTarget) -> SchemaSnapshot {
        let rows = result.rows
        // The next phase's session settings reset search_path (RESET ALL).
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
