import DroverCore
import DroverPostgres
import DroverRunner
import Foundation

extension Fleet {
    func execute(_ actions: [SchedulerAction]) async {
        var starts: [(name: String, step: PlannedStep)] = []
        for action in actions {
            switch action {
            case .start(let name, let step):
                starts.append((name, step))  // together, below
            case .cancel(let name, let step, let reason):
                logger.notice("cancelling \(step): \(reason)", metadata: ["db": "\(name)"])
                emit("cancel", reason, database: name, step: step)
                running[name]?.cancel()
            case .halt(let tier, let wave, let failed):
                logger.error("tier halted: failures in wave \(wave) beyond its budget: \(failed.joined(separator: ", "))", metadata: ["tier": "\(tier)"])
                emit("halt", "wave \(wave): \(failed.joined(separator: ", ")) failed", tier: tier)
            case .waveFinished(let tier, let wave):
                logger.info("wave \(wave) finished", metadata: ["tier": "\(tier)"])
                emit("wave-finished", "wave \(wave) finished", tier: tier)
            case .wakeUp:
                break  // the loop ticks often enough; the hint matters to a sleeping loop
            }
        }
        await start(starts)
    }

    /// Records the intents (one durable write for all that start in this round),
    /// then runs each phase in its own task. A phase never starts without its
    /// intent on disk.
    private func start(_ steps: [(name: String, step: PlannedStep)]) async {
        let now = clock()
        var ready: [(spec: DatabaseSpec, step: PlannedStep)] = []
        for (name, step) in steps {
            guard let spec = scheduler.database(named: name) else { continue }
            guard intentsReconciled(for: name) else {
                scheduler.phaseFailed(name, step: step, .notStarted("\(step) not started: the phase in flight before the restart is not checked yet", retryAfter: Self.notStartedRetry), at: now)
                continue
            }
            if let leadership, !leadership.mayLead() {
                // The lease ran out since the tick (this process was stopped, or the state
                // database is out of reach): another droverd may lead by now.
                scheduler.phaseFailed(name, step: step, .notStarted("\(step) not started: this droverd no longer holds the lease", retryAfter: Self.notStartedRetry), at: now)
                continue
            }
            ready.append((spec, step))
        }
        guard !ready.isEmpty else { return }
        // The fingerprint queued by its previous phase shows the schema that phase left.
        for (spec, _) in ready { await fingerprintTaken(of: spec) }
        do {
            try await store.recordIntents(ready.map { ($0.spec.name, $0.step) }, at: now)
            stateStoreWritable()
        } catch {
            // A phase never runs without its intent on disk: after a crash nothing
            // else would tell which phase was in flight.
            let problem = stateStoreFailed(error)
            for (spec, step) in ready {
                logger.error("not starting \(step): \(problem)", metadata: ["db": "\(spec.name)"])
                scheduler.phaseFailed(spec.name, step: step, .notStarted("\(step) not started: \(problem)", retryAfter: Self.notStartedRetry), at: now)
            }
            return
        }
        for (spec, step) in ready { launch(step, on: spec, at: now) }
    }

    /// Runs the phase, its intent recorded, in its own task.
    private func launch(_ step: PlannedStep, on spec: DatabaseSpec, at now: Date) {
        let name = spec.name
        phaseEvents[name, default: 0] += 1
        logger.info("starting \(step)", metadata: ["db": "\(name)", "revision": "\(step.revision)", "phase": "\(step.phase.rawValue)"])
        emit("start", "\(step)", database: name, step: step)
        let runner = makeRunner()
        let fleet = manifest.fleet
        let reused = takeIdleConnection(for: spec)
        let usedBefore = PhaseConnectionUse.of(reused)
        // Rows were read from it: the phase may read them with the lock.
        let trackingTableSeen = scheduler.observations[name]?.records.isEmpty == false
        // An Alembic project: the steps after this one that share its gates go along.
        let through = scheduler.alembicStretch(of: name, from: step)
        // On the Postgres threads: the phase's round trips run inline, not handed over.
        running[name] = Task(executorPreference: PostgresExecutor.shared) {
            let result: Result<(PhaseOutcome, SchemaSnapshot?), RunnerError>
            var kept: PostgresConnection?
            var session: RunnerSession?
            do throws(RunnerError) {
                session = RunnerSession(target: try DatabaseTarget(spec, fleet: fleet), connection: reused)
                session!.trackingTableSeen = trackingTableSeen
                // A schema tenant's fingerprint comes with a batch (`Fleet+Fingerprints.swift`).
                let outcome = try await runner.run(step, on: session!, fingerprint: spec.schema == nil, alembicThrough: through)
                await Failpoints.current.reach("phase-after-commit")
                kept = session!.detach()
                result = .success((outcome, outcome.snapshot))
            } catch {
                await session?.close()
                if session == nil { await reused?.close() }
                result = .failure(error)
            }
            // A reused connection that broke was replaced by a fresh one, counting from zero.
            let used = kept.map { PhaseConnectionUse.of($0) - ($0 === reused ? usedBefore : PhaseConnectionUse()) }
            await self.finished(name, step: step, startedAt: now, result: result, connection: kept, used: used)
        }
    }

    private func finished(_ name: String, step: PlannedStep, startedAt: Date, result: Result<(PhaseOutcome, SchemaSnapshot?), RunnerError>, connection: PostgresConnection?, used: PhaseConnectionUse?) async {
        running[name] = nil
        phaseEvents[name, default: 0] += 1
        heapTrim.worked(at: .now)
        defer { wake.signal() }  // the database's next phase, or another's, may start now
        let now = clock()
        switch result {
        case .success(let (outcome, snapshot)):
            if let connection, let spec = scheduler.database(named: name) { keepIdleConnection(connection, for: spec) }
            if let used { phaseConnectionUse += used }
            scheduler.phaseSucceeded(name, step: step, at: now, duration: outcome.duration, alembicVersions: outcome.alembicVersions)
            // The scheduler knows what the phase did, and the phase read the tracking
            // rows under the lock: that counts as a read. During a rollout the polls
            // of moving databases were a good part of the server's work. Before the
            // store write below: while it is awaited the actor serves others, who
            // must not see a phase that ended and a read still due from before it.
            scheduleRead(name, readAt: now)
            if snapshot == nil, let spec = scheduler.database(named: name), spec.schema != nil { queueFingerprint(of: spec, revision: step.revision) }
            let tier = scheduler.database(named: name)?.tier ?? ""
            let history = outcome.alreadyApplied ? nil : HistoryEntry(
                database: name, revision: step.revision, phase: step.phase, outcome: "applied", startedAt: startedAt, finishedAt: now,
                rows: outcome.rows, error: nil, actor: actorName, output: outcome.output)
            do {
                try await store.recordCompletion(name, step: step, history: history, expectedDuration: ("\(tier)/\(step.revision)/\(step.phase.rawValue)", outcome.duration),
                                                 fingerprint: snapshot.map { (step.revision, $0) }, at: now)
            } catch {
                // The database has the phase (its tracking table is the truth); only
                // droverd's own record of it is missing.
                logger.error("\(step) applied, but \(stateStoreFailed(error))", metadata: ["db": "\(name)"])
            }
            logger.info("\(step) applied", metadata: ["db": "\(name)", "rows": "\(outcome.rows)"])
            emit("applied", "\(step): \(outcome.rows) rows", database: name, step: step)
            await recordAppliedTogether(outcome, on: name, startedAt: startedAt, at: now)
        case .failure(let error):
            try? await store.clearIntent(name)
            let failure = Self.classify(error)
            scheduler.phaseFailed(name, step: step, failure, at: now)
            if case .failed = failure {
                try? await store.setFailure(name, scheduler.runtime[name]?.failure)
                try? await store.appendHistory(HistoryEntry(database: name, revision: step.revision, phase: step.phase, outcome: "failed", startedAt: startedAt, finishedAt: now, rows: 0, error: error.description, actor: actorName, output: error.output))
            }
            logger.error("\(step) did not complete: \(error)", metadata: ["db": "\(name)"])
            if case .tampered = failure {
                emit("tampered", error.description, database: name, step: step)
            } else {
                emit("failed", error.description, database: name, step: step)
            }
            observeSoon(name)  // read it again at once
        }
    }

    /// The revisions one `alembic upgrade` run applied besides the step it was
    /// started for: each counts as applied, with its own history entry and event.
    private func recordAppliedTogether(_ outcome: PhaseOutcome, on name: String, startedAt: Date, at now: Date) async {
        for revision in outcome.appliedTogether {
            let step = PlannedStep(revision: revision, phase: outcome.phase)
            scheduler.phaseSucceeded(name, step: step, at: now, duration: .zero, alembicVersions: outcome.alembicVersions)
            try? await store.appendHistory(HistoryEntry(
                database: name, revision: revision, phase: outcome.phase, outcome: "applied", startedAt: startedAt, finishedAt: now,
                rows: 0, error: nil, actor: actorName, output: nil))
            logger.info("\(step) applied (in the same alembic upgrade as \(outcome.revision))", metadata: ["db": "\(name)"])
            emit("applied", "\(step): in the same alembic upgrade as \(outcome.revision)", database: name, step: step)
        }
    }

    /// Remembers why the state store refused a write (status and STATUS= show it);
    /// returns the sentence.
    func stateStoreFailed(_ error: any Error) -> String {
        let problem = "droverd cannot write its state store \(store.path): \(error)"
        stateStoreProblem = problem
        return problem
    }

    func stateStoreWritable() {
        guard stateStoreProblem != nil else { return }
        logger.notice("the state store \(store.path) is writable again")
        stateStoreProblem = nil
    }

    /// How soon a phase that droverd held back (state store not writable, lease
    /// lapsed, an earlier intent unchecked) is tried again.
    static let notStartedRetry: Duration = .seconds(5)

    static func classify(_ error: RunnerError) -> PhaseFailure {
        switch error {
        case .locked(_, let pid): .locked(pid: pid, retryAfter: .seconds(30))
        case .connectionFailed: .unreachable(error.description, retryAfter: .seconds(15))
        case .cancelled: .cancelled
        case .tampered(_, let sections): .tampered(sections)
        default: .failed(error.description)
        }
    }
}
