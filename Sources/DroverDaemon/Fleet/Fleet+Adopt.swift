import DroverCore
import DroverRunner

extension Fleet {
    /// Takes over an Alembic-managed database (docs/tracking.md, issue #6): every revision in
    /// its Alembic version table (several heads included), with their ancestors, is
    /// recorded as applied, every phase, and the adoption is audited. Adopting again
    /// changes nothing.
    @discardableResult
    public func adopt(_ database: String, by caller: Caller = .daemon) async throws(FleetError) -> String {
        try checkDatabase(database)
        guard let spec = scheduler.database(named: database) else { throw .unknownDatabase(database, suggestion: nil) }
        let session: RunnerSession
        do {
            session = RunnerSession(target: try DatabaseTarget(spec, fleet: manifest.fleet))
        } catch {
            throw .phaseFailed(database: database, error)
        }
        let table = session.target.alembicVersionTable
        let observation: DatabaseObservation
        do {
            observation = try await makeRunner().observe(session)
        } catch {
            await session.close()
            throw .phaseFailed(database: database, error)
        }
        await session.close()
        let versions = observation.alembicVersions ?? []
        guard !versions.isEmpty else {
            throw .invalidParameter(
                "db",
                reason:
                    "\(database) has no rows in \(table)\(observation.alembicVersions == nil ? " (no such table)" : ""): nothing to adopt; if Alembic keeps its version elsewhere, set alembic.version_table / version_table_schema for it in the manifest"
            )
        }
        if let unknown = versions.first(where: { graph[$0] == nil }) {
            throw .unknownRevision(unknown, reason: "\(database) is at Alembic revision \(unknown) (\(table)), which the revision repository does not have")
        }
        let done = Set(observation.trackingRecords.filter(\.status.isDone).map { "\($0.revision)/\($0.phase.rawValue)" })
        let missing = versions.flatMap { graph.lineage(of: $0) }.contains { revision in
            revision.forwardPhases.contains { !done.contains("\(revision.id)/\($0.rawValue)") }
        }
        let heads = versions.joined(separator: ", ")
        let message: String
        if missing {
            // All heads in one stamp: nothing may start on the database in between.
            let recorded = try await recordStamp(database, revisions: versions, phase: nil, note: "adopted from Alembic (\(table) \(heads))", by: caller).count
            message = "adopted \(database) at Alembic \(heads): \(recorded) phase\(recorded == 1 ? "" : "s") recorded as applied"
        } else {
            message = "\(database) is already adopted at Alembic \(heads); nothing changed"
        }
        await audit("adopt", ["db": database, "alembic": heads], message, caller)
        return message
    }
}
