import DroverCore
import DroverPostgres

/// One attempt at one phase, on a connection that holds the advisory lock. Round
/// trips are what a phase costs on a fleet of small databases, so statements that
/// can go together do (`PostgresConnection.pipeline`): BEGIN with the section's
/// statements; the tracking row with COMMIT, left to the caller's last round trip
/// (`Ending.closing`, sent with the unlock).
struct PhaseExecution {
    let graph: RevisionGraph
    let revision: Revision
    let section: Section
    let step: PlannedStep
    let target: DatabaseTarget
    let connection: PostgresConnection
    let probe: BlockerProbe
    let actor: String
    /// `dropsPreparedStatements(section)`, worked out once per phase.
    let dropsPreparedStatements: Bool
    /// Where its row goes, found under the lock (`TrackingLayout`).
    var tracking: TrackingTable
    /// Told why a backfill waits between batches (`throttle`), and `nil` when it goes on.
    var throttled: @Sendable (String?) -> Void = { _ in }
    /// The caller began the transaction of an expand, contract or revert (a lane:
    /// with the lock and the read), so no BEGIN is sent.
    var transactionBegun = false

    /// What the phase did, and the statements that record and commit it, which the
    /// caller sends with the unlock: a failure among those is the phase's failure.
    struct Ending {
        var outcome: PhaseOutcome
        var closing: [PipelineStatement] = []
    }

    /// `records`: the tracking rows, read under the lock (from `tracking`).
    func run(_ loop: inout RetryLoop, records: [TrackingRecord]) async throws -> Ending {
        let state = RevisionState(graph: graph, records: records)
        if state.isTampered {
            throw RunnerError.tampered(database: target.name, sections: state.tampered)
        }
        if step.phase == .revert {
            // A revert is done while the expand it undid stays reverted (a later
            // re-expand makes it revertable again).
            if records.first(where: { $0.revision == step.revision && $0.phase == .expand })?.status == .reverted {
                return Ending(outcome: outcome(rows: 0, alreadyApplied: true))
            }
        } else if let existing = records.first(where: { $0.revision == step.revision && $0.phase == step.phase }), existing.status.isDone {
            return Ending(outcome: outcome(rows: existing.rowsAffected, alreadyApplied: true))
        }
        try checkPrerequisites(records)

        do {
            if step.phase == .backfill {
                return try await runBackfill(&loop, records: records)
            } else if section.noTransaction {
                return Ending(outcome: try await runStatementByStatement(&loop))
            } else {
                return try await runInTransaction()
            }
        } catch {
            // A phase that cannot roll back as a whole records why it stopped, unless
            // it will be retried right away or was cancelled (resumed later).
            let willRetry = (error as? StatementError).map { RetryLoop.isRetryable($0.error) && !loop.isLastAttempt } ?? false
            let yielded = if case RunnerError.throttledTooLong = error { true } else { false }
            if !yielded && (section.noTransaction || step.phase == .backfill) && !willRetry && !Task.isCancelled && !connection.isBroken {
                let text =
                    (error as? StatementError).map { failure in
                        (failure.statement.map { "\($0): " } ?? "") + failure.error.description
                    } ?? "\(error)"
                try? await tracking.markFailed(connection, revision: step.revision, phase: step.phase, error: text)
            }
            throw error
        }
    }

    // MARK: Kinds of phase

    /// Expand, contract or revert: every statement and the tracking row in one
    /// transaction, so the phase is applied and recorded, or neither. The row and
    /// COMMIT are the caller's to send, with the unlock.
    private func runInTransaction() async throws -> Ending {
        try refuseTransactionControl()
        let rows = try await beginAndExecute(section.statements.map { ($0, $0.text) }, begin: !transactionBegun)
        await Failpoints.current.reach("phase-before-commit")
        let record =
            step.phase == .revert
            ? tracking.markRevertedStatements(revision: step.revision, checksum: section.checksum, by: actor)
            : [
                tracking.markAppliedStatement(
                    revision: step.revision, phase: step.phase, checksum: section.checksum, rows: rows, statements: section.statements.count, by: actor)
            ]
        return Ending(outcome: outcome(rows: rows), closing: record + [PipelineStatement("COMMIT")])
    }

    /// Batches, each its own transaction together with the running total, until a
    /// batch affects no row. Interrupted, it resumes with the total intact. One
    /// round trip a batch: a batch's total and COMMIT go with the next batch's BEGIN
    /// and statements (with a `pause`, the pause comes between them instead); the
    /// last, empty batch commits with the caller's unlock.
    /// With a `throttle`, each batch commits on its own and the limits are checked
    /// before the next (`waitWhileThrottled`); with a target batch duration the
    /// batch size adapts (`BatchSizer`).
    private func runBackfill(_ loop: inout RetryLoop, records: [TrackingRecord]) async throws -> Ending {
        let options = section.backfill ?? BackfillOptions()
        let throttle = target.settings.throttle
        var sizer = BatchSizer(batch: options.batch, target: throttle.targetBatchDuration)
        func batchStatements() -> [(SQLStatement, String)] {
            section.statements.map { ($0, SQLSplitter.substitute("batch", with: String(sizer.size), in: $0)) }
        }
        let separateCommits = options.pause > .zero || throttle.checksBetweenBatches || throttle.targetBatchDuration != nil
        let table = section.statements.lazy.compactMap(\.writtenTable).first
        try refuseTransactionControl()
        func record(_ rows: Int) -> PipelineStatement {
            tracking.recordBatchStatement(revision: step.revision, checksum: section.checksum, rows: rows, finished: rows == 0, by: actor)
        }
        // Under the lock no one else adds to the total of an earlier, interrupted run.
        var total = records.first { $0.revision == step.revision && $0.phase == .backfill }?.rowsAffected ?? 0
        // Also before the first batch: a backfill started again after `max_wait`
        // would otherwise queue its batch behind the lock waiters it waited for.
        if throttle.checksBetweenBatches { try await waitWhileThrottled(throttle, table: table) }
        var started = ContinuousClock.now
        var sizes = [sizer.size]
        var rows = try await beginAndExecute(batchStatements())
        while rows > 0 {
            total += rows
            if separateCommits {
                _ = try await commit(after: record(rows))
                sizer.batchTook(.now - started)
                loop.progressed()
                if options.pause > .zero { try await Task.sleep(for: options.pause) }
                if throttle.checksBetweenBatches { try await waitWhileThrottled(throttle, table: table) }
                started = .now
                sizes.append(sizer.size)
                rows = try await beginAndExecute(batchStatements())
            } else {
                sizes.append(sizer.size)
                rows = try await beginAndExecute(batchStatements(), committingFirst: record(rows)) { loop.progressed() }
            }
            await Failpoints.current.reach("backfill-between-batches")
        }
        var result = outcome(rows: total)
        result.batchSizes = sizes
        return Ending(outcome: result, closing: [record(0), PipelineStatement("COMMIT")])
    }

    /// Waits, checking every `throttleInterval`, while a limit of `throttle` is
    /// exceeded; says why through `throttled`. Cancellation (window end, `droverctl
    /// cancel`, shutdown) ends the wait like the phase; so does `max_wait`, with
    /// `throttledTooLong` (the scheduler starts the backfill again later).
    private func waitWhileThrottled(_ throttle: Throttle, table: String?) async throws {
        var said: String?
        let since = ContinuousClock.now
        while let reason = throttle.reason(try await ThrottleProbe.read(connection, table: table)) {
            if reason != said {
                throttled(reason)
                said = reason
            }
            let waited = ContinuousClock.now - since
            if waited >= throttle.maxWait {
                throw RunnerError.throttledTooLong(database: target.name, revision: step.revision, waited: waited, reason: reason)
            }
            try await Task.sleep(for: min(Self.throttleInterval, throttle.maxWait - waited))
        }
        if said != nil { throttled(nil) }
    }

    static let throttleInterval: Duration = .milliseconds(250)

    /// `-- drover:no-transaction`: statements one by one, progress recorded after
    /// each, resumed at the first one not recorded. A `CREATE INDEX CONCURRENTLY`
    /// that failed leaves an INVALID index, which is dropped so a retry can build it.
    private func runStatementByStatement(_ loop: inout RetryLoop) async throws -> PhaseOutcome {
        let statements = section.statements
        try await tracking.markRunning(
            connection, revision: step.revision, phase: step.phase, checksum: section.checksum, statements: statements.count, by: actor)
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

    /// BEGIN and the statements (each with the SQL to send) in one round trip, with
    /// the blocker probe armed; the rows they affected. A failure rolls back and
    /// names the statement's file and line. `committingFirst`: the open
    /// transaction's last statement, sent with its COMMIT ahead of the BEGIN;
    /// `committed` runs once that COMMIT went through, whatever follows. Without
    /// `begin` the transaction is already open.
    private func beginAndExecute(
        _ statements: [(SQLStatement, String)], begin: Bool = true, committingFirst last: PipelineStatement? = nil, committed: () -> Void = {}
    ) async throws -> Int {
        let first = last.map { [$0, PipelineStatement("COMMIT")] } ?? []
        let opening = first + (begin ? [PipelineStatement("BEGIN")] : [])
        let outcome = try await probe.watch(backendPID: connection.backendPID, configuration: target.connection, after: probeDelay) {
            try await connection.pipeline(opening + statements.map { PipelineStatement($0.1) })
        }
        forgetPreparedStatementsIfDropped()
        if !first.isEmpty && (outcome.failure?.index ?? first.count) >= first.count { committed() }
        guard let failure = outcome.failure else {
            try await checkTransactionStayedOpen(outcome, skipping: opening.count, statements.map(\.0))
            return outcome.results.dropFirst(opening.count).reduce(0) { $0 + ($1.affectedRows ?? 0) }
        }
        await connection.rollbackIfOpen()
        let failed = failure.index - opening.count
        throw StatementError(statement: failed < 0 ? nil : reference(statements[failed].0), error: failure.error)
    }

    /// A file that skipped `check` may still hold a COMMIT: the phase would commit
    /// half its work and record none of it. Nothing is sent.
    private func refuseTransactionControl() throws {
        for statement in section.statements {
            guard let command = TransactionRules.transactionControl(statement) else { continue }
            throw RunnerError.refused(
                database: target.name,
                reason:
                    "\(revision.file):\(statement.line): \(command) inside a transactional \(step.phase.rawValue) section would end the phase's own transaction; nothing was run (remove it; droverctl check names every such statement) [transaction-control]"
            )
        }
    }

    /// Defence in depth behind `refuseTransactionControl`: when the transaction the
    /// phase opened is gone, or a statement committed, the phase fails before its
    /// row is written. `skipping`: results before the section's statements.
    private func checkTransactionStayedOpen(_ outcome: PipelineOutcome, skipping: Int, _ statements: [SQLStatement]) async throws {
        let tags = outcome.results.dropFirst(skipping).map(\.commandTag)
        let committed = tags.firstIndex(where: TransactionRules.commits(commandTag:))
        guard !outcome.inTransaction || committed != nil else { return }
        await connection.rollbackIfOpen()
        let statement = committed.map { "'\(statements[$0].summary)' at \(revision.file):\(statements[$0].line)" } ?? "a statement of \(revision.file)"
        throw RunnerError.refused(
            database: target.name,
            reason: "\(statement) ended the \(step.phase.rawValue) phase's transaction; drover did not record the phase [transaction-control]")
    }

    /// `statement` and COMMIT in one round trip; the statement's result.
    private func commit(after statement: PipelineStatement) async throws -> QueryResult {
        let outcome = try await connection.pipeline([statement, PipelineStatement("COMMIT")])
        guard let failure = outcome.failure else { return outcome.results[0] }
        await connection.rollbackIfOpen()
        throw StatementError(statement: nil, error: failure.error)
    }

    /// Runs one statement of the section on its own with the blocker probe armed;
    /// failures name the statement's file and line.
    private func execute(_ statement: SQLStatement) async throws -> QueryResult {
        do {
            defer { forgetPreparedStatementsIfDropped() }
            return try await probe.watch(backendPID: connection.backendPID, configuration: target.connection, after: probeDelay) {
                try await connection.execute(statement.text)
            }
        } catch let error as PostgresError {
            throw StatementError(statement: reference(statement), error: error)
        }
    }

    /// A section that says `DISCARD` or `DEALLOCATE` may have dropped the statements
    /// drover prepared on the connection: they are prepared again.
    private func forgetPreparedStatementsIfDropped() {
        if dropsPreparedStatements { connection.forgetPreparedStatements() }
    }

    /// Whether the section says `DISCARD` or `DEALLOCATE` (case-insensitively; a
    /// mention in a comment or a string only costs a fresh Prepare).
    static func dropsPreparedStatements(_ section: Section) -> Bool {
        section.statements.contains { statement in
            let text = statement.text.lowercased()
            return text.contains("discard") || text.contains("deallocate")
        }
    }

    /// Whether the section may change a session setting that would outlive its
    /// transaction (`SET`, `set_config`, `RESET`, `DISCARD`, also inside a `DO`
    /// block): a lane then resets the settings before its next tenant. A mention
    /// anywhere counts (`SET NOT NULL` too): a reset costs one statement.
    static func mayChangeSessionSettings(_ section: Section) -> Bool {
        section.statements.contains { statement in
            let text = statement.text.lowercased()
            return text.contains("set") || text.contains("discard")
        }
    }

    /// Early enough that the probe's own connect and query fit in the lock wait.
    private var probeDelay: Duration { max(target.settings.lockTimeout / 4, .milliseconds(20)) }

    private func reference(_ statement: SQLStatement) -> StatementReference {
        StatementReference(location: SourceLocation(file: revision.file, line: statement.line), summary: statement.summary)
    }

    /// Order rules of docs/states.md, checked again here so that no caller can break them.
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
                throw refuse(
                    "\(children.joined(separator: ", ")) build\(children.count == 1 ? "s" : "") on \(revision.id): revert \(children.count == 1 ? "it" : "them") first"
                )
            }
        }
    }

    private func outcome(rows: Int, alreadyApplied: Bool = false) -> PhaseOutcome {
        PhaseOutcome(
            revision: step.revision, phase: step.phase, alreadyApplied: alreadyApplied, rows: rows,
            statements: section.statements.count, attempts: 0, duration: .zero, notices: [])
    }
}
