import DroverCore
import DroverPostgres
import Foundation

/// Reads a `SchemaSnapshot` from a database (docs/daemon.md): tables, columns, defaults,
/// nullability, indexes and constraints of the managed schema, with the managed
/// schema's own name left out, so that tenants in different schemas (and whole
/// databases, in `public`) compare equal.
///
/// Schema tenants of one database are read together (`capture(_:tenants:)`): the
/// query's planning costs more than reading one tenant's catalog rows, and with
/// other tenants' DDL running in the same database PostgreSQL replans even a
/// prepared statement every time (each `CREATE TABLE` resets the plan cache).
enum SchemaFingerprint {
    static func capture(_ connection: PostgresConnection, target: DatabaseTarget) async throws(PostgresError) -> SchemaSnapshot {
        let results = try await connection.pipeline(statements(target)).get()
        return snapshot(from: results.last ?? QueryResult(), target: target)
    }

    /// Snapshots of schema tenants sharing `connection`'s database, by target name:
    /// one query for all of them.
    static func capture(_ connection: PostgresConnection, tenants targets: [DatabaseTarget]) async throws(PostgresError) -> [String: SchemaSnapshot] {
        let schemas = targets.compactMap(\.schema)
        let results = try await connection.pipeline(tenantStatements(schemas)).get()
        let bySchema = tenantSnapshots(from: results.last ?? QueryResult())
        var snapshots: [String: SchemaSnapshot] = [:]
        for target in targets {
            guard let schema = target.schema else { continue }
            snapshots[target.name] = bySchema[schema] ?? SchemaSnapshot(tables: [:])
        }
        return snapshots
    }

    /// The statements that read it (one round trip, or the end of a phase's last
    /// one); the last one's result is what `snapshot(from:target:)` reads.
    static func statements(_ target: DatabaseTarget) -> [PipelineStatement] {
        if let schema = target.schema { return tenantStatements([schema]) }
        // A whole database: every schema but the system ones and drover's own.
        let relations = """
            SELECT c.oid, '' AS schema, CASE WHEN n.nspname = 'public' THEN '' ELSE n.nspname || '.' END || c.relname AS name, c.relkind
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
               AND n.nspname <> $1::text AND n.nspname NOT LIKE $1::text || '\\_%'
            """
        // Planned once per connection, not once per phase: a custom plan of this query
        // costs more server time than the query itself (measured in
        // docs/benchmarks.md), and a database's phases share one connection. The next
        // phase's RESET ALL takes the setting back before its own SQL runs.
        return [
            PipelineStatement(genericPlans, reusable: true),
            PipelineStatement(query(relations), [target.trackingSchema], reusable: true),
        ]
    }

    static let genericPlans = "SELECT set_config('plan_cache_mode', 'force_generic_plan', false)"

    /// Tenants' relations through pg_depend's index on the referenced schema:
    /// pg_class has no index on relnamespace, and a scan of it per batch would grow
    /// with the number of tenants. With `search_path` empty every name in the
    /// tenants' schemas comes out qualified, and `unqualified` removes the tenant's
    /// own schema from it.
    private static func tenantStatements(_ schemas: [String]) -> [PipelineStatement] {
        let relations = """
            SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind
              FROM pg_namespace n
              JOIN pg_depend dep ON dep.refobjid = n.oid AND dep.refclassid = 'pg_namespace'::regclass AND dep.classid = 'pg_class'::regclass
              JOIN pg_class c ON c.oid = dep.objid
             WHERE n.nspname = ANY ($1::text[])
            """
        return [PipelineStatement("SET search_path TO ''"), PipelineStatement(query(relations), [SQLQuoting.arrayLiteral(schemas)], reusable: true)]
    }

    /// Rows: kind, schema, table, name, definition, default, nullable, order.
    private static func query(_ relations: String) -> String {
        """
        WITH r AS MATERIALIZED (\(relations))
        SELECT 'column', r.schema, r.name, a.attname, format_type(a.atttypid, a.atttypmod),
               pg_get_expr(d.adbin, d.adrelid), CASE WHEN a.attnotnull THEN 'f' ELSE 't' END, a.attnum
          FROM r
          JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
          LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
         WHERE r.relkind IN ('r', 'p')
        UNION ALL
        SELECT 'index', r.schema, r.name, i.relname, pg_get_indexdef(i.oid), NULL, NULL, 0
          FROM r JOIN pg_index x ON x.indrelid = r.oid JOIN pg_class i ON i.oid = x.indexrelid
        UNION ALL
        SELECT 'constraint', r.schema, r.name, c.conname, pg_get_constraintdef(c.oid), NULL, NULL, 0
          FROM r JOIN pg_constraint c ON c.conrelid = r.oid
         ORDER BY 2, 1, 3, 8
        """
    }

    static func snapshot(from result: QueryResult, target: DatabaseTarget) -> SchemaSnapshot {
        if let schema = target.schema { return tenantSnapshots(from: result)[schema] ?? SchemaSnapshot(tables: [:]) }
        // pg_get_indexdef always qualifies the table.
        return snapshot(of: result.rows[...]) { definition in
            var text = definition
            for keyword in [" ON ", " REFERENCES "] { text = text.replacingOccurrences(of: keyword + "public.", with: keyword) }
            return text
        }
    }

    private static func tenantSnapshots(from result: QueryResult) -> [String: SchemaSnapshot] {
        var snapshots: [String: SchemaSnapshot] = [:]
        var rows = result.rows[...]
        while let first = rows.first {
            // Rows come ordered by schema: take this schema's run.
            let schema = first[1]
            let run = rows.prefix { $0[1] == schema }
            rows = rows.dropFirst(run.count)
            guard let schema else { continue }
            snapshots[schema] = snapshot(of: run) { unqualified($0, schema: schema) }
        }
        return snapshots
    }

    private static func snapshot(of rows: ArraySlice<[String?]>, unqualify: (String) -> String) -> SchemaSnapshot {
        var tables: [String: SchemaSnapshot.Table] = [:]
        for row in rows {
            guard let kind = row[0], let table = row[2], let name = row[3], let definition = row[4] else { continue }
            var entry = tables[table] ?? SchemaSnapshot.Table(name: table, columns: [], indexes: [:], constraints: [:])
            switch kind {
            case "column":
                entry.columns.append(
                    SchemaSnapshot.Column(name: name, type: unqualify(definition), defaultValue: row[5].map(unqualify), nullable: row[6] == "t"))
            case "index":
                entry.indexes[name] = unqualify(definition)
            default:
                entry.constraints[name] = unqualify(definition)
            }
            tables[table] = entry
        }
        return SchemaSnapshot(tables: tables)
    }

    /// `text` without the qualification by `schema` (`acme.` or `"Acme".`), where
    /// it starts a name: what PostgreSQL prints with `search_path` set to `schema`.
    /// Byte by byte: this runs for every column and index of every tenant.
    static func unqualified(_ text: String, schema: String) -> String {
        var result = Array(text.utf8)
        for prefix in Set([schema + ".", SQLQuoting.identifier(schema) + "."]) {
            let needle = Array(prefix.utf8)
            var out: [UInt8] = []
            var index = 0
            var found = false
            while index < result.count {
                guard result[index] == needle[0], result[index...].starts(with: needle) else {
                    out.append(result[index])
                    index += 1
                    continue
                }
                found = true
                // Only where a name starts: not inside a longer name (`xacme.`); a
                // byte of a multi-byte character is part of a name.
                if let previous = out.last,
                    previous >= 0x80 || Self.isNameByte(previous) || previous == UInt8(ascii: ".")
                        || (previous == UInt8(ascii: "\"") && needle[0] != UInt8(ascii: "\""))
                {
                    out += needle
                }
                index += needle.count
            }
            if found { result = out }
        }
        return String(decoding: result, as: UTF8.self)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"),
            UInt8(ascii: "$"):
            true
        default: false
        }
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

    /// Fingerprints of schema tenants that share `connection`'s database, by name,
    /// in one query (after a batch of their phases).
    public func fingerprints(ofTenants targets: [DatabaseTarget], on connection: PostgresConnection) async throws(PostgresError) -> [String: SchemaSnapshot] {
        try await SchemaFingerprint.capture(connection, tenants: targets)
    }
}
