import DroverCore
import DroverPostgres
import Foundation

/// One `alembic upgrade <revision>` on one database, on a connection that holds
/// drover's advisory lock for the whole run (Alembic uses a connection of its own).
/// Before and after, `alembic_version` is read as the truth; what it confirms is
/// recorded in drover's tracking table, one row per revision. With `through`, one
/// run applies a whole stretch (`AlembicStretch`); a failure in the middle leaves
/// recorded exactly what Alembic committed.
struct AlembicExecution {
    let graph: RevisionGraph
    let revision: Revision
    let section: Section
    let step: PlannedStep
    let target: DatabaseTarget
    let connection: PostgresConnection
    let actor: String
    let alembic: AlembicRunner
    /// The revision to upgrade to when a stretch runs at once; `nil`: `step` alone.
    var through: String? = nil

    func run() async throws -> PhaseOutcome {
        let tracking = try await TrackingTable.open(for: target, on: connection)
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
            try await record(in: tracking, step.revision, status: "applied", note: "found in \(target.alembicVersionTable) (applied outside drover)")
            return outcome(alreadyApplied: true, output: nil, heads: heads)
        }
        let upgradeTarget = through ?? step.revision
        // What `alembic upgrade upgradeTarget` applies, in the order it applies it.
        let batch =
            through == nil
            ? [step.revision]
            : AlembicUpgradeOrder.order(graph, pending: Set(graph.lineage(of: upgradeTarget).map(\.id)).subtracting(applied), target: upgradeTarget)
        if through == nil, let missing = revision.parents.first(where: { !applied.contains($0) }) {
            throw RunnerError.refused(
                database: target.name,
                reason:
                    "alembic upgrade \(step.revision) would also apply \(missing), which is not applied yet (\(target.alembicVersionTable) holds \(heads.isEmpty ? "nothing" : heads.joined(separator: ", ")))"
            )
        }
        guard batch.first == step.revision, batch.allSatisfy({ graph[$0]?.sections[step.phase] != nil }) else {
            throw RunnerError.refused(
                database: target.name,
                reason:
                    "alembic upgrade \(upgradeTarget) would apply \(batch.joined(separator: ", ")), not a stretch of \(step.phase.rawValue) phases that starts with \(step.revision)"
            )
        }

        let process = alembic.process(revision: upgradeTarget, phase: step.phase, target: target, connection: connection)
        let result: ChildProcess.Result
        do {
            result = try await process.run()
        } catch let error as ChildProcess.SpawnError {
            throw RunnerError.refused(database: target.name, reason: "\(error) (fleet.alembic.command)")
        }
        let output = connection.password.map { $0.scrub(result.output) } ?? result.output
        if Task.isCancelled {
            await stopLeftoverBackend(upgradeTarget)
            throw RunnerError.cancelled(database: target.name, revision: step.revision, phase: step.phase)
        }
        await Failpoints.current.reach("alembic-after-upgrade")
        let after = try await AlembicVersion.read(connection, table: target.alembicVersionTable) ?? []
        let appliedAfter = AlembicTruth.applied(graph, heads: after)
        // Whatever Alembic committed is recorded, also when the run failed later.
        let committed = batch.filter(appliedAfter.contains)
        for id in committed { try await record(in: tracking, id, status: "applied", note: nil) }
        if result.status == 0 && committed.count == batch.count {
            var done = outcome(alreadyApplied: false, output: output, heads: after)
            done.appliedTogether = Array(batch.dropFirst())
            return done
        }
        // The revision Alembic was running when it stopped (its last "Running upgrade
        // A -> B" line); with a one-transaction env.py nothing before it stayed either.
        let failed =
            AlembicFailure.lastStarted(output).flatMap { batch.contains($0) ? $0 : nil }
            ?? batch.first { !appliedAfter.contains($0) } ?? upgradeTarget
        let failure = AlembicFailure(
            revision: failed, status: result.status, signalled: result.signalled, output: output,
            versionTable: target.alembicVersionTable.description, heads: after
        )
        if failure.isLockTimeout && committed.isEmpty {
            throw StatementError(statement: nil, error: PostgresError(kind: .statementFailed, sqlState: "55P03", message: failure.summary))
        }
        try? await record(in: tracking, failed, status: "failed", note: nil, error: failure.summary)
        let reason = committed.isEmpty ? failure.summary : failure.summary + " (applied and recorded before it: \(committed.joined(separator: ", ")))"
        throw RunnerError.alembicFailed(database: target.name, revision: failed, phase: step.phase, reason: reason, output: output)
    }

    /// For a phase that was in flight when droverd stopped: the revisions the version
    /// table has but the tracking table does not (Alembic committed, droverd died
    /// before its own rows; a stretch leaves several) get their rows. Runs nothing;
    /// whether a row was written for `step`.
    func recordIfApplied() async throws -> Bool {
        let tracking = try await TrackingTable.open(for: target, on: connection)
        let heads = try await AlembicVersion.read(connection, table: target.alembicVersionTable) ?? []
        let applied = AlembicTruth.applied(graph, heads: heads)
        let tracked = Set(try await tracking.records(connection).filter { $0.status == .applied }.map(\.revision))
        let missing = graph.order.filter { applied.contains($0) && !tracked.contains($0) && graph[$0]?.sections[step.phase] != nil }
        for id in missing {
            try await record(in: tracking, id, status: "applied", note: "applied by alembic upgrade before droverd stopped; recorded at restart")
        }
        return missing.contains(step.revision)
    }

    /// A revision's tracking row. The checksum is the revision file's, so a file
    /// edited after it ran shows as tampered.
    private func record(in tracking: TrackingTable, _ id: String, status: String, note: String?, error: String? = nil) async throws {
        let checksum = graph[id]?.sections[step.phase]?.checksum ?? section.checksum
        try await tracking.upsert(connection, revision: id, phase: step.phase, status: status, checksum: checksum, by: actor, note: note, error: error)
    }

    /// After a cancellation: the server session Alembic left behind, if any, is
    /// ended before the advisory lock is released, so its transaction is rolled
    /// back and nothing runs unguarded.
    private func stopLeftoverBackend(_ revision: String) async {
        _ = try? await connection.query(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()
            """, ["drover/\(revision)/\(step.phase.rawValue)"], cancellable: false)
    }

    private func outcome(alreadyApplied: Bool, output: String?, heads: [String]) -> PhaseOutcome {
        PhaseOutcome(
            revision: step.revision, phase: step.phase, alreadyApplied: alreadyApplied, rows: 0,
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

    /// `B` of the last `Running upgrade A -> B` line Alembic logged.
    static func lastStarted(_ output: String) -> String? {
        output.split(separator: "\n").reversed().lazy.compactMap { line in
            line.range(of: "Running upgrade ").flatMap { found in
                line[found.upperBound...].range(of: "-> ").map { String(line[$0.upperBound...].prefix { !$0.isWhitespace && $0 != "," }) }
            }
        }.first
    }

    var isLockTimeout: Bool {
        status != 0 && (output.contains("LockNotAvailable") || output.contains("due to lock timeout"))
    }

    var summary: String {
        if status == 0 {
            return
                "alembic upgrade \(revision) exited 0 but \(versionTable) holds \(heads.isEmpty ? "nothing" : heads.joined(separator: ", ")): does env.py connect to the database drover gives it (fleet.alembic.url_env / url_x) and use the version table configured for it?"
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
