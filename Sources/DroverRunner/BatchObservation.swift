import DroverCore
import DroverPostgres
import Foundation

extension PhaseRunner {
    /// Observes many targets that share one database (schema tenants) in a handful
    /// of round trips instead of three per tenant: which tracking and Alembic tables
    /// exist, the rows of the shared tracking table by `schema = ANY`, those of
    /// tenants' own tables (`TrackingLayout`) through UNION ALL in chunks, and
    /// drover's advisory locks.
    public func observe(_ targets: [DatabaseTarget], on connection: PostgresConnection) async throws(PostgresError) -> [String: DatabaseObservation] {
        let trackingSchemas = Array(Set(targets.map(\.trackingSchema) + targets.map(\.fleetTrackingSchema)))
        let versionTables = Array(Set(targets.map(\.alembicVersionTable)))
        let present = try await connection.query(
            """
            SELECT n.nspname, c.relname, CASE WHEN EXISTS (
                       SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'schema' AND NOT a.attisdropped)
                   THEN 'shared' ELSE 'tracking' END
              FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'revisions'
             WHERE n.nspname = ANY ($1::text[])
            UNION ALL
            SELECT n.nspname, c.relname, 'alembic'
              FROM unnest($2::text[], $3::text[]) AS v (schema, name)
              JOIN pg_namespace n ON n.nspname = v.schema JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = v.name
            """,
            [
                SQLQuoting.arrayLiteral(trackingSchemas), SQLQuoting.arrayLiteral(versionTables.map(\.schema)),
                SQLQuoting.arrayLiteral(versionTables.map(\.table)),
            ])
        let tracked = Set(present.rows.filter { $0[2] != "alembic" }.compactMap { $0[0] })
        let shared = Set(present.rows.filter { $0[2] == "shared" }.compactMap { $0[0] })
        let presentTables = Set(
            present.rows.filter { $0[2] == "alembic" }.compactMap { row in
                row[0].flatMap { schema in row[1].map { AlembicVersionTable(schema: schema, table: $0) } }
            })

        var tables: [String: TrackingTable] = [:]
        for target in targets {
            let layout = TrackingLayout(
                sharedExists: tracked.contains(target.fleetTrackingSchema), sharedHasTenants: shared.contains(target.fleetTrackingSchema),
                ownExists: target.schema != nil && tracked.contains(target.trackingSchema))
            tables[target.name] = layout.existing(for: target)
        }
        let records = try await Self.records(of: tables, on: connection)
        var alembic: [AlembicVersionTable: [String]] = [:]
        let readable = versionTables.filter(presentTables.contains)
        for chunk in Self.chunks(readable, of: 200) {
            let union = chunk.enumerated().map { "SELECT \($0.offset), version_num::text FROM \($0.element.qualified)" }.joined(separator: " UNION ALL ")
            for row in try await connection.query(union + " ORDER BY 1, 2").rows {
                if let index = row[0].flatMap({ Int($0) }), let version = row[1] { alembic[chunk[chunk.startIndex + index], default: []].append(version) }
            }
        }
        let locks = try await connection.query(
            """
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
            let key = Int64(UInt32(bitPattern: target.advisoryLockKey.objectID))
            let versions = presentTables.contains(target.alembicVersionTable) ? (alembic[target.alembicVersionTable] ?? []) : nil
            observations[target.name] = DatabaseObservation(
                graph: graph,
                trackingRecords: tables[target.name].flatMap { records[$0] } ?? [],
                alembicVersions: versions,
                lockHolderPID: holders[key]
            )
        }
        return observations
    }

    /// The rows of each table: one query per chunk of tenants in a shared table, one
    /// UNION ALL per chunk of tables of their own.
    private static func records(
        of tables: [String: TrackingTable], on connection: PostgresConnection
    ) async throws(PostgresError) -> [TrackingTable:
        [TrackingRecord]]
    {
        var records: [TrackingTable: [TrackingRecord]] = [:]
        let distinct = Set(tables.values)
        for (schema, members) in Dictionary(grouping: distinct.filter { $0.tenant != nil }, by: \.schema) {
            for chunk in chunks(members.compactMap(\.tenant).sorted(), of: 5000) {
                let rows = try await connection.query(
                    "SELECT schema, \(TrackingTable.columns) FROM \(SQLQuoting.identifier(schema)).revisions WHERE schema = ANY ($1::text[]) ORDER BY 1, 6, 2, 3",
                    [SQLQuoting.arrayLiteral(Array(chunk))]
                ).rows
                for row in rows {
                    if let tenant = row[0], let record = TrackingTable.record(from: row.dropFirst()) {
                        records[TrackingTable(schema: schema, tenant: tenant), default: []].append(record)
                    }
                }
            }
        }
        for chunk in chunks(distinct.filter { $0.tenant == nil }.map(\.schema).sorted(), of: 200) {
            let union = chunk.map { schema in
                "SELECT \(SQLQuoting.literal(schema)) AS tracking_schema, \(TrackingTable.columns) FROM \(SQLQuoting.identifier(schema)).revisions"
            }.joined(separator: " UNION ALL ")
            for row in try await connection.query(union + " ORDER BY 1, 6, 2, 3").rows {
                if let schema = row[0], let record = TrackingTable.record(from: row.dropFirst()) {
                    records[TrackingTable(schema: schema), default: []].append(record)
                }
            }
        }
        return records
    }

    static func chunks<T>(_ values: [T], of size: Int) -> [ArraySlice<T>] {
        stride(from: 0, to: values.count, by: size).map { values[$0..<min($0 + size, values.count)] }
    }
}
