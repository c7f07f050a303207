import DroverCore
import DroverPostgres

extension PhaseRunner {
    /// Observes many targets that share one database (schema tenants) in a handful
    /// of round trips instead of three per tenant: which tracking and Alembic tables
    /// exist, their rows through UNION ALL in chunks, and drover's advisory locks.
    public func observe(_ targets: [DatabaseTarget], on connection: PostgresConnection) async throws(PostgresError) -> [String: DatabaseObservation] {
        let trackingSchemas = targets.map(\.trackingSchema)
        let tenantSchemas = targets.map { $0.schema ?? "public" }
        let present = try await connection.query("""
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE (c.relname = 'revisions' AND n.nspname = ANY ($1::text[]))
                OR (c.relname = 'alembic_version' AND n.nspname = ANY ($2::text[]))
            """, [Self.arrayLiteral(trackingSchemas), Self.arrayLiteral(tenantSchemas)])
        let tracked = Set(present.rows.filter { $0[1] == "revisions" }.compactMap { $0[0] })
        let alembicSchemas = Set(present.rows.filter { $0[1] == "alembic_version" }.compactMap { $0[0] })

        var records: [String: [TrackingRecord]] = [:]
        for chunk in Self.chunks(trackingSchemas.filter(tracked.contains), of: 200) {
            let union = chunk.map { schema in
                "SELECT \(SQLQuoting.literal(schema)) AS tracking_schema, \(TrackingTable.columns) FROM \(SQLQuoting.identifier(schema)).revisions"
            }.joined(separator: " UNION ALL ")
            for row in try await connection.query(union + " ORDER BY 1, 6, 2, 3").rows {
                if let schema = row[0], let record = TrackingTable.record(from: row.dropFirst()) { records[schema, default: []].append(record) }
            }
        }
        var alembic: [String: [String]] = [:]
        for chunk in Self.chunks(tenantSchemas.filter(alembicSchemas.contains), of: 200) {
            let union = chunk.map { "SELECT \(SQLQuoting.literal($0)), version_num::text FROM \(SQLQuoting.identifier($0)).alembic_version" }.joined(separator: " UNION ALL ")
            for row in try await connection.query(union + " ORDER BY 1, 2").rows {
                if let schema = row[0], let version = row[1] { alembic[schema, default: []].append(version) }
            }
        }
        let locks = try await connection.query("""
            SELECT objid::bigint, pid FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 2
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = ($1::bigint & 4294967295)::oid
            """, [String(DatabaseTarget.advisoryLockClass)])
        var holders: [Int64: Int32] = [:]
        for row in locks.rows {
            if let object = row[0].flatMap({ Int64($0) }), let pid = row[1].flatMap({ Int32($0) }) { holders[object] = pid }
        }

        var observations: [String: DatabaseObservation] = [:]
        for target in targets {
            let rows = records[target.trackingSchema] ?? []
            let key = Int64(UInt32(bitPattern: target.advisoryLockKey.objectID))
            observations[target.name] = DatabaseObservation(
                records: rows,
                alembicVersions: alembicSchemas.contains(target.schema ?? "public") ? (alembic[target.schema ?? "public"] ?? []) : nil,
                lockHolderPID: holders[key],
                state: RevisionState(graph: graph, records: rows)
            )
        }
        return observations
    }

    /// A PostgreSQL text[] literal, passed as a parameter.
    static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }

    static func chunks<T>(_ values: [T], of size: Int) -> [ArraySlice<T>] {
        stride(from: 0, to: values.count, by: size).map { values[$0..<min($0 + size, values.count)] }
    }
}

import Foundation
