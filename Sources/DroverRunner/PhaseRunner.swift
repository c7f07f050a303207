import DroverCore
import DroverPostgres
import Logging

/// Moves one database through one phase of one revision (docs/revisions.md, §4, §6): session
/// settings, the advisory lock, the tamper check, the phase itself and its tracking
/// row, and retries. The daemon's scheduler decides *which* phase; this decides
/// nothing about the fleet.
public struct PhaseRunner: Sendable {
    public let graph: RevisionGraph
    /// Written to `applied_by`, e.g. `droverd@host`.
    public var actor: String
    public var logger: Logger
    /// How to run revisions of an Alembic project; `nil` for drover's own SQL.
    public var alembic: AlembicRunner?

    public init(graph: RevisionGraph, actor: String, logger: Logger = Logger(label: "drover.runner"), alembic: AlembicRunner? = nil) {
        self.graph = graph
        self.actor = actor
        self.logger = logger
        self.alembic = alembic
    }

    /// Runs `step` on the session's database. Returns once the phase is applied
    /// (or found applied); throws a `RunnerError` that says why otherwise, with the
    /// database as it was before the phase (backfill batches and no-transaction
    /// statements that completed stay, and are resumed next time). `fingerprint`:
    /// also read the schema fingerprint after the phase (`PhaseOutcome.snapshot`).
    /// `alembicThrough`: in an Alembic project, run `alembic upgrade` to this revision
    /// (a descendant of `step`'s, `AlembicStretch`) and record all it applies.
    public func run(
        _ step: PlannedStep, on session: RunnerSession, fingerprint: Bool = false, alembicThrough: String? = nil
    ) async throws(RunnerError) -> PhaseOutcome {
        let target = session.target
        guard let revision = graph[step.revision] else {
            throw .refused(database: target.name, reason: "unknown revision \(step.revision)")
        }
        guard let section = revision.section(step.phase) else {
            throw .refused(database: target.name, reason: "revision \(step.revision) has no \(step.phase.rawValue) section")
        }
        var logger = self.logger
        logger[metadataKey: "db"] = "\(target.name)"
        logger[metadataKey: "revision"] = "\(step.revision)"
        logger[metadataKey: "phase"] = "\(step.phase.rawValue)"

        let clock = ContinuousClock()
        let started = clock.now
        var loop = RetryLoop(target: target, step: step)
        while true {
            loop.begin()
            let probe = BlockerProbe()
            do {
                let connection = try await session.connect()
                var outcome: PhaseOutcome
                if section.engine == .alembic {
                    guard let alembic else {
                        throw RunnerError.refused(database: target.name, reason: "\(step.revision) is an Alembic revision but no Alembic project is configured")
                    }
                    outcome = try await AdvisoryLock.withLock(connection, target: target, setUp: session.settings(revision: step.revision, phase: step.phase)) {
                        try await AlembicExecution(
                            graph: graph, revision: revision, section: section, step: step, target: target,
                            connection: connection, actor: actor, alembic: alembic, through: alembicThrough
                        ).run()
                    }
                    if fingerprint { outcome.snapshot = try? await SchemaFingerprint.capture(connection, target: target) }
                } else {
                    var execution = PhaseExecution(
                        graph: graph, revision: revision, section: section, step: step, target: target,
                        connection: connection, probe: probe, actor: actor,
                        dropsPreparedStatements: PhaseExecution.dropsPreparedStatements(section), tracking: TrackingLayout.expected(for: target)
                    )
                    let report = session.throttled
                    execution.throttled = { [logger] reason in
                        if let reason { logger.notice("backfill throttled: \(reason)") } else { logger.notice("backfill continues") }
                        report(reason)
                    }
                    outcome = try await run(execution, session: session, loop: &loop, fingerprint: fingerprint)
                }
                outcome.attempts = loop.totalAttempts
                outcome.duration = clock.now - started
                outcome.notices = connection.drainNotices().map(\.message)
                logger.info(
                    "\(outcome.alreadyApplied ? "already applied" : "applied")", metadata: ["rows": "\(outcome.rows)", "attempts": "\(loop.totalAttempts)"])
                return outcome
            } catch let error as RunnerError {
                throw error
            } catch {
                let failure = (error as? StatementError) ?? StatementError(statement: nil, error: (error as? PostgresError) ?? Self.cancellation)
                loop.blockers = probe.blockers.isEmpty ? loop.blockers : probe.blockers
                if failure.error.isConnectionProblem { await session.reset() }
                // The session holding the lock, named on every retry, not only the last.
                var blockedBy = ""
                if failure.error.sqlState == "55P03" {
                    blockedBy =
                        probe.blockers.isEmpty
                        ? "; the blocking session was not identified (the probe had not answered)"
                        : "; blocked by " + probe.blockers.map(\.description).joined(separator: "; ")
                }
                logger.warning("attempt \(loop.totalAttempts) failed: \(failure.error)\(blockedBy)")
                if await loop.shouldRetry(after: failure.error) { continue }
                throw loop.finalError(failure)
            }
        }
    }

    /// drover's own SQL in three round trips: the settings, the lock and the tracking
    /// rows; the phase (`PhaseExecution`); its record and COMMIT with the unlock and
    /// the fingerprint.
    private func run(_ execution: PhaseExecution, session: RunnerSession, loop: inout RetryLoop, fingerprint: Bool) async throws -> PhaseOutcome {
        var execution = execution
        let (connection, target) = (execution.connection, session.target)
        let settings = session.settings(revision: execution.step.revision, phase: execution.step.phase)
        // Once the daemon has seen rows, they are read with the lock from where they
        // should be. A tenant's rows found in the shared table prove the layout; a
        // whole database's table may be shared with tenants, which the probe tells.
        let expected = TrackingLayout.expected(for: target)
        let probes = target.schema == nil || !session.trackingTableSeen
        let opened = try await AdvisoryLock.acquire(
            connection, target: target, setUp: settings,
            then: (probes ? [TrackingLayout.probe(target)] : []) + (session.trackingTableSeen ? [expected.readStatement] : []))
        do {
            var records: [TrackingRecord] = []
            let layoutHolds =
                probes
                ? opened.results.first.map { TrackingLayout(probed: $0) }.map { $0.destination(for: target) == expected && !$0.movesRows(of: target) } ?? false
                : opened.results.last.map { !$0.rows.isEmpty } ?? false
            if let failure = opened.failure {
                // The table the daemon had seen is not there (a tenant whose rows are
                // still in its own table, or a table dropped by hand); its failure also
                // undid the settings (one implicit transaction): set them again.
                guard failure.error.sqlState == "42P01" else { throw failure.error }
                _ = try await connection.pipeline(settings).get()
                execution.tracking = try await TrackingTable.open(for: target, on: connection)
                records = try await execution.tracking.records(connection)  // moved from the tenant's own table
            } else if session.trackingTableSeen, layoutHolds {
                records = TrackingTable.records(from: opened.results[opened.results.count - 1])
            } else {
                execution.tracking = try await TrackingTable.open(for: target, on: connection)
                records = try await execution.tracking.records(connection)
            }
            let ending = try await execution.run(&loop, records: records)
            let snapshot = fingerprint ? SchemaFingerprint.statements(target) : []
            let closed = try await connection.pipeline(ending.closing + [AdvisoryLock.release(target)] + snapshot)
            if let failure = closed.failure, failure.index < ending.closing.count {
                throw StatementError(statement: nil, error: failure.error)  // COMMIT refused: rolled back
            }
            if let failure = closed.failure, failure.index == ending.closing.count { throw failure.error }  // the unlock
            var outcome = ending.outcome
            if fingerprint, closed.failure == nil, let rows = closed.results.last {
                outcome.snapshot = SchemaFingerprint.snapshot(from: rows, target: target)
            }
            return outcome
        } catch {
            await AdvisoryLock.abandon(connection, target: target)
            throw error
        }
    }

    /// After a restart, for a phase that was in flight: an Alembic revision that
    /// Alembic committed before droverd died gets its tracking row (under the
    /// advisory lock). Nothing runs; drover's own SQL needs nothing, since its
    /// phases commit with their rows. Whether a row was written.
    public func recordInFlight(_ step: PlannedStep, on session: RunnerSession) async throws(RunnerError) -> Bool {
        let target = session.target
        guard let alembic, let revision = graph[step.revision], let section = revision.section(step.phase), section.engine == .alembic else { return false }
        do {
            let connection = try await session.connect()
            return try await AdvisoryLock.withLock(connection, target: target, setUp: session.settings(revision: step.revision, phase: step.phase)) {
                try await AlembicExecution(
                    graph: graph, revision: revision, section: section, step: step, target: target,
                    connection: connection, actor: actor, alembic: alembic
                ).recordIfApplied()
            }
        } catch let error as RunnerError {
            throw error
        } catch let error as PostgresError {
            throw .connectionFailed(database: target.name, attempts: 1, error: error)
        } catch {
            throw .refused(database: target.name, reason: "\(error)")
        }
    }

    /// Every pending phase up to `revision` (contracts up to `contractThrough`), in
    /// order, on one connection. For manual runs and the demo; the daemon schedules
    /// phase by phase instead.
    public func migrate(_ session: RunnerSession, to revision: String, contractThrough: String?) async throws(RunnerError) -> [PhaseOutcome] {
        let observation = try await observe(session)
        let steps = PhasePlanner.steps(graph: graph, records: observation.records, target: revision, contractThrough: contractThrough)
        var outcomes: [PhaseOutcome] = []
        var index = 0
        while index < steps.count {
            let stretch = AlembicStretch.through(Array(steps[index...]), graph: graph)
            let outcome = try await run(steps[index], on: session, alembicThrough: stretch?.revision)
            outcomes.append(outcome)
            for revision in outcome.appliedTogether {
                var together = outcome
                together.revision = revision
                together.appliedTogether = []
                outcomes.append(together)
            }
            index += stretch?.steps ?? 1
        }
        return outcomes
    }

    /// Reads the database's tracking rows and Alembic version (no lock needed).
    public func observe(_ session: RunnerSession) async throws(RunnerError) -> DatabaseObservation {
        do {
            let connection = try await session.connect()
            return try await observe(session.target, on: connection)
        } catch {
            await session.reset()
            throw .connectionFailed(database: session.target.name, attempts: 1, error: error)
        }
    }

    /// The same on a connection the caller owns: the daemon's observer shares one
    /// connection among the schema tenants of a database.
    public func observe(_ target: DatabaseTarget, on connection: PostgresConnection) async throws(PostgresError) -> DatabaseObservation {
        let tracked = try await TrackingTable.find(for: target, on: connection)?.records(connection) ?? []
        let alembic = try await AlembicVersion.read(connection, table: target.alembicVersionTable)
        let holder = try await AdvisoryLock.holder(connection, target: target)
        return DatabaseObservation(graph: graph, trackingRecords: tracked, alembicVersions: alembic, lockHolderPID: holder)
    }

    private static let cancellation = PostgresError(kind: .cancelled, sqlState: "57014", message: "cancelled")
}

/// A database's own account of its revisions.
public struct DatabaseObservation: Sendable {
    /// What the state is computed from: the tracking rows, or in an Alembic project
    /// those reconciled with the Alembic version table (`AlembicTruth`).
    public var records: [TrackingRecord]
    /// The tracking rows as they are.
    public var trackingRecords: [TrackingRecord]
    /// `alembic_version` rows, `nil` when the database has no such table.
    public var alembicVersions: [String]?
    /// Who holds drover's advisory lock right now, if anyone.
    public var lockHolderPID: Int32?
    public var state: RevisionState

    init(graph: RevisionGraph, trackingRecords: [TrackingRecord], alembicVersions: [String]?, lockHolderPID: Int32?) {
        self.trackingRecords = trackingRecords
        self.records =
            graph.appliesInOrder
            ? AlembicTruth.records(graph: graph, tracking: trackingRecords, heads: alembicVersions)
            : trackingRecords
        self.alembicVersions = alembicVersions
        self.lockHolderPID = lockHolderPID
        self.state = RevisionState(graph: graph, records: records)
    }
}
