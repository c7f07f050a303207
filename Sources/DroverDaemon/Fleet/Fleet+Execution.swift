import DroverCore
import DroverPostgres
import DroverRunner
import Foundation

extension Fleet {
    func execute(_ actions: [SchedulerAction]) async {
        for action in actions {
            switch action {
            case .start(let name, let step):
                await start(step, on: name)
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
    }

    /// Records the intent, then runs the phase in its own task. A phase never starts
    /// without its intent on disk.
    private func start(_ step: PlannedStep, on name: String) async {
        let now = clock()
        guard let spec = scheduler.database(named: name) else { return }
        do {
            try await store.recordIntent(name, step: step, at: now)
            stateStoreWritable()
        } catch {
            // A phase never runs without its intent on disk: after a crash nothing
            // else would tell which phase was in flight.
            let problem = stateStoreFailed(error)
            logger.error("not starting \(step): \(problem)", metadata: ["db": "\(name)"])
            scheduler.phaseFailed(name, step: step, .notStarted("\(step) not started: \(problem)", retryAfter: Self.stateStoreRetry), at: now)
            return
        }
        logger.info("starting \(step)", metadata: ["db": "\(name)", "revision": "\(step.revision)", "phase": "\(step.phase.rawValue)"])
        emit("start", "\(step)", database: name, step: step)
        let runner = makeRunner()
        let fleet = manifest.fleet
        running[name] = Task {
            let result: Result<(PhaseOutcome, SchemaSnapshot?), RunnerError>
            do throws(RunnerError) {
                let session = RunnerSession(target: try DatabaseTarget(spec, fleet: fleet))
                let outcome = try await runner.run(step, on: session)
                await Failpoints.current.reach("phase-after-commit")
                let snapshot = try? await runner.fingerprint(session)
                await session.close()
                result = .success((outcome, snapshot))
            } catch {
                result = .failure(error)
            }
            await self.finished(name, step: step, startedAt: now, result: result)
        }
    }

    private func finished(_ name: String, step: PlannedStep, startedAt: Date, result: Result<(PhaseOutcome, SchemaSnapshot?), RunnerError>) async {
        running[name] = nil
        let now = clock()
        try? await store.clearIntent(name)
        switch result {
        case .success(let (outcome, snapshot)):
            scheduler.phaseSucceeded(name, step: step, at: now, duration: outcome.duration, alembicVersions: outcome.alembicVersions)
            let tier = scheduler.database(named: name)?.tier ?? ""
            try? await store.setExpectedDuration("\(tier)/\(step.revision)/\(step.phase.rawValue)", outcome.duration)
            try? await store.setFailure(name, nil)
            if let snapshot { try? await store.saveFingerprint(name, revision: step.revision, snapshot: snapshot, at: now) }
            if !outcome.alreadyApplied {
                try? await store.appendHistory(HistoryEntry(database: name, revision: step.revision, phase: step.phase, outcome: "applied", startedAt: startedAt, finishedAt: now, rows: outcome.rows, error: nil, actor: actorName, output: outcome.output))
            }
            logger.info("\(step) applied", metadata: ["db": "\(name)", "rows": "\(outcome.rows)"])
            emit("applied", "\(step): \(outcome.rows) rows", database: name, step: step)
        case .failure(let error):
            let failure = Self.classify(error)
            scheduler.phaseFailed(name, step: step, failure, at: now)
            if case .failed = failure {
                try? await store.setFailure(name, scheduler.runtime[name]?.failure)
                try? await store.appendHistory(HistoryEntry(database: name, revision: step.revision, phase: step.phase, outcome: "failed", startedAt: startedAt, finishedAt: now, rows: 0, error: error.description, actor: actorName, output: error.output))
            }
            logger.error("\(step) did not complete: \(error)", metadata: ["db": "\(name)"])
            emit("failed", error.description, database: name, step: step)
        }
        lastObserved[name] = nil  // read it again at once
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

    /// How soon a phase held back by an unwritable state store is tried again.
    static let stateStoreRetry: Duration = .seconds(5)

    static func classify(_ error: RunnerError) -> PhaseFailure {
        switch error {
        case .locked(_, let pid): .locked(pid: pid, retryAfter: .seconds(30))
        case .connectionFailed: .unreachable(error.description, retryAfter: .seconds(15))
        case .cancelled: .cancelled
        default: .failed(error.description)
        }
    }
}
