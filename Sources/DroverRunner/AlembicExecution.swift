import DroverCore
import DroverPostgres
import Foundation

/// One `alembic upgrade <revision>` on one database, on a connection that holds
/// drover's advisory lock for the whole run (Alembic uses a connection of its own).
/// Before and after, `alembic_version` is read as the truth; what it confirms is
/// recorded in drover's tracking table.
struct AlembicExecution {
    let graph: RevisionGraph
    let revision: Revision
    let section: Section
    let step: PlannedStep
    let target: DatabaseTarget
    let connection: PostgresConnection
    let actor: String
    let alembic: AlembicRunner

    private var tracking: TrackingTable { TrackingTable(schema: target.trackingSchema) }

    func run() async throws -> PhaseOutcome {
        try await tracking.ensureExists(connection)
        let heads = try await AlembicVersion.read(connection, table: target.alembicVersionTable) ?? []
        let tracked = try await tracking.records(connection)
        let records = AlembicTruth.records(graph: graph, tracking: tracked, heads: heads)
        let state = RevisionState(graph: graph, records: records)
        if state.isTampered {
            throw RunnerError.tampered(database: target.name, sections: state.tampered)
        }
        let applied = AlembicTruth.applied(graph, heads: heads)
        if applied.contains(step.revision) {
            // Someone ran it (by hand, or a crash came between Alembic's commit and ours).
            try await record(status: "applied", note: "found in \(target.alembicVersionTable) (applied outside drover)")
            return outcome(alreadyApplied: true, output: nil, heads: heads)
        }
        if let missing = revision.parents.first(where: { !applied.contains($0) }) {
            throw RunnerError.refused(database: target.name, reason: "alembic upgrade \(step.revision) would also apply \(missing), which is not applied yet (\(target.alembicVersionTable) holds \(heads.isEmpty ? "nothing" : heads.joined(separator: ", ")))")
        }

        let process = alembic.process(revision: step.revision, phase: step.phase, target: target, connection: connection)
        let result: ChildProcess.Result
        do {
            result = try await process.run()
        } catch let error as ChildProcess.SpawnError {
            throw RunnerError.refused(database: target.name, reason: "\(error) (fleet.alembic.command)")
        }
        let output = connection.password.map { $0.scrub(result.output) } ?? result.output
        if Task.isCancelled {
            await stopLeftoverBackend()
            throw RunnerError.cancelled(database: target.name, revision: step.revision, phase: step.phase)
        }
        await Failpoints.current.reach("alembic-after-upgrade")
        let after = try await AlembicVersion.read(connection, table: target.alembicVersionTable) ?? []
        if result.status == 0 && AlembicTruth.applied(graph, heads: after).contains(step.revision) {
            try await record(status: "applied", note: nil)
            return outcome(alreadyApplied: false, output: output, heads: after)
        }
        let failure = AlembicFailure(
            revision: step.revision, status: result.status, signalled: result.signalled, output: output,
            versionTable: target.alembicVersionTable.description, heads: after
        )
        if failure.isLockTimeout {
            throw StatementError(statement: nil, error: PostgresError(kind: .statementFailed, sqlState: "55P03", message: failure.summary))
        }
        try? await record(status: "failed", note: nil, error: failure.summary)
        throw RunnerError.alembicFailed(database: target.name, revision: step.revision, phase: step.phase, reason: failure.summary, output: output)
    }

    /// For a revision that was in flight when droverd stopped: when the version table
    /// has it but the tracking table does not (Alembic committed, droverd died before
    /// its own row), writes the row. Runs nothing; whether a row was written.
    func recordIfApplied() async throws -> Bool {
        try await tracking.ensureExists(connection)
        let heads = try await AlembicVersion.read(connection, table: target.alembicVersionTable) ?? []
        guard AlembicTruth.applied(graph, heads: heads).contains(step.revision) else { return false }
        let tracked = try await tracking.records(connection)
        guard !tracked.contains(where: { $0.revision == step.revision && $0.phase == step.phase && $0.status == .applied }) else { return false }
        try await record(status: "applied", note: "applied by alembic upgrade before droverd stopped; recorded at restart")
        return true
    }

    /// A revision's tracking row. The checksum is the revision file's, so a file
    /// edited after it ran shows as tampered.
    private func record(status: String, note: String?, error: String? = nil) async throws {
        try await tracking.upsert(connection, revision: step.revision, phase: step.phase, status: status, checksum: section.checksum, by: actor, note: note, error: error)
    }

    /// After a cancellation: the server session Alembic left behind, if any, is
    /// ended before the advisory lock is released, so its transaction is rolled
    /// back and nothing runs unguarded.
    private func stopLeftoverBackend() async {
        _ = try? await connection.query("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()
            """, ["drover/\(step.revision)/\(step.phase.rawValue)"], cancellable: false)
    }

    private func outcome(alreadyApplied: Bool, output: String?, heads: [String]) -> PhaseOutcome {
        PhaseOutcome(revision: step.revision, phase: step.phase, alreadyApplied: alreadyApplied, rows: 0,
                     statements: 0, attempts: 0, duration: .zero, notices: [], output: output, alembicVersions: heads)
    }
}

/// Why `alembic upgrade` did not apply a revision, in a line or a few: Alembic's
/// last error lines, or what the version table says instead.
struct AlembicFailure {
    var revision: String
    var status: Int32
    var signalled: Bool
    var output: String
    var versionTable: String
    var heads: [String]

    var isLockTimeout: Bool {
        status != 0 && (output.contains("LockNotAvailable") || output.contains("due to lock timeout"))
    }

    var summary: String {
        if status == 0 {
            return "alembic upgrade \(revision) exited 0 but \(versionTable) holds \(heads.isEmpty ? "nothing" : heads.joined(separator: ", ")): does env.py connect to the database drover gives it (fleet.alembic.url_env / url_x) and use the version table configured for it?"
        }
        let how = signalled ? "was killed (signal \(status - 128))" : "exited \(status)"
        let lines = Self.lastErrorLines(output)
        return "alembic upgrade \(revision) \(how)" + (lines.isEmpty ? "" : ": " + lines.joined(separator: " | "))
    }

    /// The exception at the end of a Python traceback and what follows it (the
    /// server's LINE and SQL), without the frames, caret lines and SQLAlchemy's
    /// link to its docs; at most five lines.
    static func lastErrorLines(_ output: String) -> [String] {
        var lines: [String] = []
        for line in output.split(separator: "\n", omittingEmptySubsequences: true).reversed() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.allSatisfy({ $0 == "^" }) || text.hasPrefix("(Background on this error at") { continue }
            if line.hasPrefix("  File \"") || line.hasPrefix("    ") || text.hasPrefix("Traceback (most recent call last)") { break }
            lines.insert(text, at: 0)
            if lines.count == 5 { break }
        }
        return lines
    }
}
