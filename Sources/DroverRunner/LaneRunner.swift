import DroverCore
import DroverPostgres

/// Runs the phases of several schema tenants of one database one after another on
/// one connection: a lane (docs/daemon.md#tenant-lanes). Each tenant's phase stays
/// its own: its try-lock, its tracking rows read under the lock, its statements
/// and tracking row in one transaction, its own end. What the lane saves is round
/// trips and statements. A tenant's transaction opens with one statement that sets
/// its settings and takes its advisory lock for the transaction
/// (`pg_try_advisory_xact_lock`, the same key a phase run alone holds for its
/// session), so COMMIT gives the lock back; its tracking row and COMMIT go in one
/// pipeline with the next tenant's BEGIN, settings, lock and read. A tenant costs
/// two round trips and five statements besides its own, and `RESET ALL` is sent
/// only when the previous tenant's SQL may have changed a setting.
///
/// Only the usual case takes that path: a transactional section of a tenant whose
/// rows are in the shared tracking table. Anything else (no rows seen yet, rows
/// still in the tenant's own table, a statement that failed, a lock timeout) goes
/// through `PhaseRunner.run` on the same connection, which creates, moves,
/// retries and explains.
public struct LaneRunner: Sendable {
    public let runner: PhaseRunner

    public init(runner: PhaseRunner) { self.runner = runner }

    public struct Member: Sendable {
        public var target: DatabaseTarget
        public var step: PlannedStep
        /// The daemon read this tenant's rows: they are read with the lock.
        public var trackingTableSeen: Bool

        public init(target: DatabaseTarget, step: PlannedStep, trackingTableSeen: Bool) {
            self.target = target
            self.step = step
            self.trackingTableSeen = trackingTableSeen
        }
    }

    public typealias Ended = (_ index: Int, _ result: Result<PhaseOutcome, RunnerError>) async -> Void

    /// Runs `members` in order, telling `ended` each one's end as soon as it is
    /// committed or has failed. Stops after a failure other than a held lock (a
    /// broken revision costs a lane one tenant before the scheduler's failure
    /// budget sees it) and when the task is cancelled: the members from `notRun`
    /// on were not started. Returns the connection, unless it broke.
    public func run(_ members: [Member], connection: PostgresConnection?, ended: Ended) async -> (connection: PostgresConnection?, notRun: Int) {
        var lane = Lane(runner: runner, connection: connection)
        var index = 0
        while index < members.count, !Task.isCancelled {
            let failed = await lane.run(members[index], index: index, ended: ended)
            index += 1
            if failed { break }
        }
        await lane.settle(ended: ended)
        return (lane.connection.flatMap { $0.isBroken ? nil : $0 }, index)
    }
}

/// A lane's connection and the last tenant's phase, committed with the next
/// tenant's opening.
private struct Lane {
    let runner: PhaseRunner
    var connection: PostgresConnection?
    /// The previous tenant: done but for its tracking row and COMMIT.
    var pending: Pending?
    /// The previous tenant's SQL may have changed session settings.
    var needsReset = true

    struct Pending {
        var index: Int
        var target: DatabaseTarget
        var step: PlannedStep
        var outcome: PhaseOutcome
        /// The tracking row and COMMIT (ROLLBACK when already applied), which
        /// also gives the tenant's transaction-level lock back.
        var closing: [PipelineStatement]
        var started: ContinuousClock.Instant
    }

    /// Runs one tenant; whether it failed (for a reason other than a held lock).
    mutating func run(_ member: LaneRunner.Member, index: Int, ended: LaneRunner.Ended) async -> Bool {
        let target = member.target
        guard member.trackingTableSeen, target.schema != nil, let revision = runner.graph[member.step.revision],
            let section = revision.section(member.step.phase), section.engine == .sql, !section.noTransaction, member.step.phase != .backfill
        else { return await runAlone(member, index: index, ended: ended) }
        let started = ContinuousClock.now
        let tracking = TrackingLayout.expected(for: target)
        let reset = needsReset ? [PipelineStatement("RESET ALL", reusable: true)] : []
        let opening =
            reset + [
                PipelineStatement("BEGIN"),
                RunnerSession.settingsTakingTransactionLock(for: target, revision: member.step.revision, phase: member.step.phase),
                tracking.readStatement,
            ]
        let lockAt = opening.count - 2
        let opened: PipelineOutcome
        do {
            opened = try await open(opening, target: target, ended: ended)
        } catch {
            return await fail(.connectionFailed(database: target.name, attempts: 1, error: error), index: index, ended: ended)
        }
        // Settings, lock or read refused (the shared table is gone, say): rolled
        // back, which gives the lock back, and the phase runs the long way.
        if opened.failure != nil {
            await connection!.rollbackIfOpen()
            return await runAlone(member, index: index, ended: ended)
        }
        guard opened.results[lockAt].rows.first?.last == "t" else {
            await connection!.rollbackIfOpen()
            let holder = try? await AdvisoryLock.holder(connection!, target: target)
            await ended(index, .failure(.locked(database: target.name, holderPID: holder)))
            return false
        }
        let records = TrackingTable.records(from: opened.results[lockAt + 1])
        guard !records.isEmpty else {
            await connection!.rollbackIfOpen()
            return await runAlone(member, index: index, ended: ended)
        }
        var execution = PhaseExecution(
            graph: runner.graph, revision: revision, section: section, step: member.step, target: target, connection: connection!,
            probe: BlockerProbe(), actor: runner.actor, dropsPreparedStatements: PhaseExecution.dropsPreparedStatements(section), tracking: tracking)
        execution.transactionBegun = true
        var loop = RetryLoop(target: target, step: member.step)
        loop.begin()
        do {
            let ending = try await execution.run(&loop, records: records)
            // Nothing to do (already applied): the transaction only read.
            let closing = ending.closing.isEmpty ? [PipelineStatement("ROLLBACK")] : ending.closing
            pending = Pending(index: index, target: target, step: member.step, outcome: ending.outcome, closing: closing, started: started)
            needsReset = PhaseExecution.mayChangeSessionSettings(section)
            return false
        } catch let error as RunnerError {
            await connection!.rollbackIfOpen()
            return await fail(error, index: index, ended: ended)
        } catch {
            await connection!.rollbackIfOpen()
            if Task.isCancelled {
                return await fail(.cancelled(database: target.name, revision: member.step.revision, phase: member.step.phase), index: index, ended: ended)
            }
            // A statement failed or waited too long for a lock: rolled back; the
            // long way tries again as often as the settings allow and says why.
            return await runAlone(member, index: index, ended: ended)
        }
    }

    /// Sends the pending tenant's closing with `opening`, reports its end, and
    /// returns what `opening` got (sent again alone when the closing failed).
    private mutating func open(_ opening: [PipelineStatement], target: DatabaseTarget, ended: LaneRunner.Ended) async throws(PostgresError) -> PipelineOutcome {
        // The pending tenant's transaction went with a broken connection: its row
        // must not be written on a new one.
        if pending != nil, connection?.isBroken ?? true { await settle(ended: ended) }
        let connection = try await connect(target)
        let closing = pending?.closing ?? []
        var outcome = try await connection.pipeline(closing + opening)
        let closedAt = outcome.failure.map { $0.index < closing.count } ?? false
        await settle(outcome, failed: closedAt, ended: ended)
        if closedAt { return try await connection.pipeline(opening) }
        outcome.results.removeFirst(closing.count)
        outcome.failure?.index -= closing.count
        return outcome
    }

    /// Sends the pending tenant's closing alone (at the lane's end, or before a
    /// tenant that goes the long way) and reports its end.
    mutating func settle(ended: LaneRunner.Ended) async {
        guard let pending else { return }
        guard let connection, !connection.isBroken, let outcome = try? await connection.pipeline(pending.closing) else {
            self.pending = nil
            let error = PostgresError(kind: .connectionLost, message: "the connection broke before COMMIT")
            await ended(pending.index, .failure(.connectionFailed(database: pending.target.name, attempts: 1, error: error)))
            return
        }
        await settle(outcome, failed: outcome.failure != nil, ended: ended)
    }

    /// Reports the pending tenant's end from the results of its closing.
    private mutating func settle(_ outcome: PipelineOutcome, failed: Bool, ended: LaneRunner.Ended) async {
        guard let pending else { return }
        self.pending = nil
        if failed, let failure = outcome.failure {
            // The row or COMMIT refused: rolled back, which gives the lock back.
            if let connection { await connection.rollbackIfOpen() }
            let loop = RetryLoop(target: pending.target, step: pending.step)
            await ended(pending.index, .failure(loop.finalError(StatementError(statement: nil, error: failure.error))))
            return
        }
        await Failpoints.current.reach("phase-after-commit")
        var result = pending.outcome
        result.attempts = 1
        result.duration = .now - pending.started
        result.notices = connection?.drainNotices().map(\.message) ?? []
        await ended(pending.index, .success(result))
    }

    /// The tenant's phase the long way (`PhaseRunner.run`), after the pending one's end.
    private mutating func runAlone(_ member: LaneRunner.Member, index: Int, ended: LaneRunner.Ended) async -> Bool {
        await settle(ended: ended)
        let session = RunnerSession(target: member.target, connection: connection)
        session.trackingTableSeen = member.trackingTableSeen
        let result: Result<PhaseOutcome, RunnerError>
        do throws(RunnerError) {
            result = .success(try await runner.run(member.step, on: session))
            await Failpoints.current.reach("phase-after-commit")
        } catch {
            result = .failure(error)
        }
        connection = session.detach()
        needsReset = true
        await ended(index, result)
        if case .failure(let error) = result, !error.isLocked { return true }
        return false
    }

    private mutating func fail(_ error: RunnerError, index: Int, ended: LaneRunner.Ended) async -> Bool {
        await ended(index, .failure(error))
        return !error.isLocked
    }

    /// The open connection, connecting first when there is none or it broke.
    private mutating func connect(_ target: DatabaseTarget) async throws(PostgresError) -> PostgresConnection {
        if let connection, !connection.isBroken { return connection }
        if let connection { await connection.close() }
        connection = nil
        needsReset = true
        let fresh = try await PostgresConnection.connect(target.connection)
        connection = fresh
        return fresh
    }
}

extension RunnerError {
    var isLocked: Bool { if case .locked = self { true } else { false } }
}
