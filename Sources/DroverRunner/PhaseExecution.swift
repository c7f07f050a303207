import DroverCore
import DroverPostgres

/// One attempt at one phase, on a connection that holds the advisory lock.
struct PhaseExecution {
    let graph: RevisionGraph
    let revision: Revision
    let section: Section
    let step: PlannedStep
    let target: DatabaseTarget
    let connection: PostgresConnection
    let probe: BlockerProbe
    let actor: String

    private var tracking: TrackingTable { TrackingTable(schema: target.trackingSchema) }

    func run(_ loop: inout RetryLoop) async throws -> PhaseOutcome {
        let records = try await tracking.ensureExistsAndRead(connection)
        let state = RevisionState(graph: graph, records: records)
        if state.isTampered {
            throw RunnerError.tampered(database: target.name, sections: state.tampered)
        }
        if step.phase == .revert {
            // A revert is done while the expand it undid stays reverted (a later
            // re-expand makes it revertable again).
            if records.first(where: { $0.revision == step.revision && $0.phase == .expand })?.status == .reverted {
                return outcome(rows: 0, alreadyApplied: true)
            }
        } else if let existing = records.first(where: { $0.revision == step.revision && $0.phase == step.phase }), existing.status.isDone {
            return outcome(rows: existing.rowsAffected, alreadyApplied: true)
        }
        try checkPrerequisites(records)

        do {
            if step.phase == .backfill {
                return try await runBackfill(&loop)
            } else if section.noTransaction {
                return try await runStatementByStatement(&loop)
            } else {
                return try await runInTransaction()
            }
        } catch {
            // A phase that cannot roll back as a whole records why it stopped, unless
            // it will be retried right away or was cancelled (resumed later).
            let willRetry = (error as? StatementError).map { RetryLoop.isRetryable($0.error) && !loop.isLastAttempt } ?? false
            if (section.noTransaction || step.phase == .backfill) && !willRetry && !Task.isCancelled && !connection.isBroken {
                let text = (error as? StatementError).map { failure in
                    (failure.statement.map { "\($0): " } ?? "") + failure.error.description
                } ?? "\(error)"
                try? await tracking.markFailed(connection, revision: step.revision, phase: step.phase, error: text)
            }
            throw error
        }
    }

    // MARK: Kinds of phase

    /// Expand, contract or revert: every statement and the tracking row in one
    /// transaction, so the phase is applied and recorded, or neither.
    private func runInTransaction() async throws -> PhaseOutcome {
        let rows = try await connection.transaction {
            var rows = 0
            for statement in section.statements {
                rows += try await execute(statement).affectedRows ?? 0
            }
            try await record(rows: rows)
            await Failpoints.current.reach("phase-before-commit")
            return rows
        }
        return outcome(rows: rows)
    }

    /// Batches, each its own transaction together with the running total, until a
    /// batch affects no row. Interrupted, it resumes with the total intact.
    private func runBackfill(_ loop: inout RetryLoop) async throws -> PhaseOutcome {
        let options = section.backfill ?? BackfillOptions()
        let batch = String(options.batch)
        while true {
            let rows = try await connection.transaction {
                var rows = 0
                for statement in section.statements {
                    let sql = SQLSplitter.substitute("batch", with: batch, in: statement)
                    rows += try await execute(statement, sql: sql).affectedRows ?? 0
                }
                try await tracking.recordBatch(connection, revision: step.revision, checksum: section.checksum, rows: rows, finished: rows == 0, by: actor)
                return rows
            }
            loop.progressed()
            if rows == 0 { break }
            await Failpoints.current.reach("backfill-between-batches")
            if options.pause > .zero { try await Task.sleep(for: options.pause) }
        }
        let total = try await tracking.record(connection, revision: step.revision, phase: .backfill)?.rowsAffected ?? 0
        return outcome(rows: total)
    }

    /// `-- drover:no-transaction`: statements one by one, progress recorded after
    /// each, resumed at the first one not recorded. A `CREATE INDEX CONCURRENTLY`
    /// that failed leaves an INVALID index, which is dropped so a retry can build it.
    private func runStatementByStatement(_ loop: inout RetryLoop) async throws -> PhaseOutcome {
        let statements = section.statements
        try await tracking.markRunning(connection, revision: step.revision, phase: step.phase, checksum: section.checksum, statements: statements.count, by: actor)
        let start = try await tracking.record(connection, revision: step.revision, phase: step.phase)?.statementsApplied ?? 0
        var rows = 0
        for index in min(start, statements.count)..<statements.count {
            let statement = statements[index]
            let index_ = SQLRules.concurrentlyCreatedIndex(statement)
            if let index_ {
                switch try await IndexCleanup.validity(connection, index_) {
                case .valid:  // built before a crash, but not recorded
                    try await tracking.markProgress(connection, revision: step.revision, phase: step.phase, statementsApplied: index + 1)
                    continue
                case .invalid:
                    try await IndexCleanup.drop(connection, index_)
                case .missing:
                    break
                }
            }
            do {
                rows += try await execute(statement).affectedRows ?? 0
            } catch {
                if let index_, !connection.isBroken { try? await IndexCleanup.dropIfInvalid(connection, index_) }
                throw error
            }
            try await tracking.markProgress(connection, revision: step.revision, phase: step.phase, statementsApplied: index + 1)
            loop.progressed()
            if index + 1 < statements.count { await Failpoints.current.reach("no-transaction-between-statements") }
        }
        if step.phase == .revert {
            try await connection.transaction {
                try await tracking.markReverted(connection, revision: step.revision, checksum: section.checksum, by: actor)
            }
        } else {
            try await tracking.markFinished(connection, revision: step.revision, phase: step.phase)
        }
        return outcome(rows: rows)
    }

    // MARK: Pieces

    private func record(rows: Int) async throws {
        if step.phase == .revert {
            try await tracking.markReverted(connection, revision: step.revision, checksum: section.checksum, by: actor)
        } else {
            try await tracking.markApplied(connection, revision: step.revision, phase: step.phase, checksum: section.checksum, rows: rows, statements: section.statements.count, by: actor)
        }
    }

    /// Runs one statement of the section with the blocker probe armed; failures name
    /// the statement's file and line.
    private func execute(_ statement: SQLStatement, sql: String? = nil) async throws -> QueryResult {
        do {
            // Early enough that the probe's own connect and query fit in the lock wait.
            let probeDelay = max(target.settings.lockTimeout / 4, .milliseconds(20))
            return try await probe.watch(backendPID: connection.backendPID, configuration: target.connection, after: probeDelay) {
                try await connection.execute(sql ?? statement.text)
            }
        } catch let error as PostgresError {
            let reference = StatementReference(location: SourceLocation(file: revision.file, line: statement.line), summary: statement.summary)
            throw StatementError(statement: reference, error: error)
        }
    }

    /// Order rules of SPEC §5, checked again here so that no caller can break them.
    private func checkPrerequisites(_ records: [TrackingRecord]) throws {
        let done = Set(records.filter(\.status.isDone).map { "\($0.revision)/\($0.phase.rawValue)" })
        func isDone(_ id: String, _ phase: Phase) -> Bool {
            graph[id]?.section(phase) == nil || done.contains("\(id)/\(phase.rawValue)")
        }
        func expanded(_ id: String) -> Bool { isDone(id, .expand) && isDone(id, .backfill) }
        func refuse(_ reason: String) -> RunnerError { .refused(database: target.name, reason: reason) }

        switch step.phase {
        case .expand:
            if let parent = revision.parents.first(where: { !expanded($0) }) {
                throw refuse("expand of \(revision.id) needs its parent \(parent) expanded first")
            }
        case .backfill:
            if !isDone(revision.id, .expand) { throw refuse("backfill of \(revision.id) needs its expand first") }
        case .contract:
            if !expanded(revision.id) { throw refuse("contract of \(revision.id) needs its expand and backfill first") }
            if let parent = revision.parents.first(where: { !isDone($0, .contract) }) {
                throw refuse("contracts run in revision order: contract \(parent) first")
            }
        case .revert:
            if isDone(revision.id, .contract) && revision.section(.contract) != nil {
                throw refuse("the contract of \(revision.id) already ran; revert is only allowed before it (write a new revision instead)")
            }
            if !done.contains("\(revision.id)/expand") {
                throw refuse("\(revision.id) is not expanded on this database: nothing to revert")
            }
            let children = graph.order.filter { $0 != revision.id && graph.isAncestor(revision.id, of: $0) && done.contains("\($0)/expand") }
            if !children.isEmpty {
                throw refuse("\(children.joined(separator: ", ")) build\(children.count == 1 ? "s" : "") on \(revision.id): revert \(children.count == 1 ? "it" : "them") first")
            }
        }
    }

    private func outcome(rows: Int, alreadyApplied: Bool = false) -> PhaseOutcome {
        PhaseOutcome(revision: step.revision, phase: step.phase, alreadyApplied: alreadyApplied, rows: rows,
                     statements: section.statements.count, attempts: 0, duration: .zero, notices: [])
    }
}
