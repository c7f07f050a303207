import DroverCore
import DroverPostgres

extension PhaseRunner {
    /// Records phases as applied without running them (`droverctl stamp`): with a
    /// phase, just that phase of `revision`; without, every forward phase of
    /// `revision` and of its ancestors that the database does not have yet.
    /// Stamping a section again records its current checksum, which is how an
    /// operator clears `tampered` after checking the change. In an Alembic project
    /// only what the Alembic version table holds can be stamped.
    public func stamp(_ revisionID: String, phase: Phase?, note: String, on session: RunnerSession) async throws(RunnerError) -> [PlannedStep] {
        try await stamp([revisionID], phase: phase, note: note, on: session)
    }

    /// Several revisions (the heads an adopted database is at) are stamped in one
    /// transaction under one lock, so nothing runs between them.
    public func stamp(_ revisionIDs: [String], phase: Phase?, note: String, on session: RunnerSession) async throws(RunnerError) -> [PlannedStep] {
        let target = session.target
        for revisionID in revisionIDs {
            guard let revision = graph[revisionID] else {
                throw .refused(database: target.name, reason: "unknown revision \(revisionID)")
            }
            if let phase, revision.sections[phase] == nil {
                throw .refused(database: target.name, reason: "revision \(revisionID) has no \(phase.rawValue) section")
            }
        }
        guard let revisionID = revisionIDs.first else { return [] }
        do {
            let connection = try await session.connect()
            return try await AdvisoryLock.withLock(connection, target: target, setUp: session.settings(revision: revisionID, phase: phase ?? .expand)) {
                let tracking = try await TrackingTable.open(for: target, on: connection)
                if graph.appliesInOrder {
                    // The Alembic version table is the truth; drover's stamp only records it.
                    let table = target.alembicVersionTable
                    let heads = try await AlembicVersion.read(connection, table: table) ?? []
                    let applied = AlembicTruth.applied(graph, heads: heads)
                    if let revisionID = revisionIDs.first(where: { !applied.contains($0) }) {
                        throw RunnerError.refused(
                            database: target.name,
                            reason:
                                "\(table) does not hold \(revisionID) (it holds \(heads.isEmpty ? "nothing" : heads.joined(separator: ", "))); in an Alembic project run 'alembic stamp \(revisionID)' first: drover's stamp records what Alembic has, e.g. to accept an edited revision file"
                        )
                    }
                }
                let done = Set(try await tracking.records(connection).filter(\.status.isDone).map { "\($0.revision)/\($0.phase.rawValue)" })
                var steps: [PlannedStep] = []
                if let phase {
                    steps = revisionIDs.map { PlannedStep(revision: $0, phase: phase) }
                } else {
                    let named = Set(revisionIDs)
                    let lineage = Set(revisionIDs.flatMap { graph.lineage(of: $0).map(\.id) })
                    for candidate in graph.order.filter(lineage.contains).compactMap({ graph[$0] }) {
                        for phase in candidate.forwardPhases where named.contains(candidate.id) || !done.contains("\(candidate.id)/\(phase.rawValue)") {
                            steps.append(PlannedStep(revision: candidate.id, phase: phase))
                        }
                    }
                }
                try await connection.transaction {
                    for step in steps {
                        let checksum = graph[step.revision]?.sections[step.phase]?.checksum
                        try await tracking.markStamped(connection, revision: step.revision, phase: step.phase, checksum: checksum, by: actor, note: note)
                    }
                }
                return steps
            }
        } catch let error as RunnerError {
            throw error
        } catch let error as PostgresError {
            if error.isConnectionProblem { await session.reset() }
            throw .statementFailed(database: target.name, revision: revisionID, phase: phase ?? .expand, statement: nil, error: error)
        } catch {
            throw .refused(database: target.name, reason: "\(error)")
        }
    }
}
