import DroverCore
import DroverRunner
import Foundation

extension Fleet {
    /// Phases that were in flight when the daemon last stopped, or when the previous
    /// leader lost its lease. The databases' tracking tables decide what became of
    /// them; the scheduler resumes from there. An Alembic revision that Alembic
    /// committed gets the tracking row droverd did not live to write, and a phase that
    /// committed just before the crash gets the history entry it would have had.
    /// An intent that cannot be checked yet (its database unreachable, the server
    /// full) is tried again every few seconds, and its database starts no phase
    /// meanwhile: a new intent would overwrite the old one.
    func reconcileIntents() async {
        if unreconciledIntents == nil {
            guard let intents = try? await store.intents() else { return }
            unreconciledIntents = intents
        }
        let runner = makeRunner()
        for (name, step) in (unreconciledIntents ?? [:]).sorted(by: { $0.key < $1.key }) {
            if await reconcile(name, step, runner: runner) {
                try? await store.clearIntent(name)
                unreconciledIntents?[name] = nil
            }
        }
    }

    /// Checks the intents still unchecked, every `reconcileInterval`.
    func reconcileIntentsDue() async {
        guard unreconciledIntents?.isEmpty != true, lastReconcile.map({ ContinuousClock.now - $0 >= Self.reconcileInterval }) ?? true else { return }
        lastReconcile = .now
        await reconcileIntents()
    }

    /// Whether a phase may start on `name`: not before the previous run's intents
    /// are read, nor while the database's own is unchecked.
    func intentsReconciled(for name: String) -> Bool {
        guard let unreconciledIntents else { return false }
        return unreconciledIntents[name] == nil
    }

    /// Checks one intent; false when it must be tried again.
    private func reconcile(_ name: String, _ step: PlannedStep, runner: PhaseRunner) async -> Bool {
        logger.notice("\(step) was in flight when droverd stopped; the database's tracking table decides what happened to it", metadata: ["db": "\(name)"])
        guard let spec = scheduler.database(named: name) else { return true }
        var session: RunnerSession?
        do throws(RunnerError) {
            session = RunnerSession(target: try DatabaseTarget(spec, fleet: manifest.fleet))
            let current = session!
            if definition.repository.alembic != nil,
                try await waitingOutLock({ () async throws(RunnerError) -> Bool in try await runner.recordInFlight(step, on: current) })
            {
                logger.notice("\(step) was committed by alembic; its tracking row is written now", metadata: ["db": "\(name)"])
            }
            let records = try await runner.observe(current).trackingRecords
            await session?.close()
            if let record = records.first(where: { $0.revision == step.revision && $0.phase == step.phase && $0.status == .applied }) {
                return await recordMissingHistory(name, step: step, record)
            }
            return true
        } catch {
            await session?.close()
            logger.warning(
                "cannot check \(step) left from before the restart yet (tried again in \(Self.reconcileInterval)): \(error)", metadata: ["db": "\(name)"])
            return false
        }
    }

    static let reconcileInterval: Duration = .seconds(5)

    /// The killed daemon's session may hold the advisory lock a moment longer, until
    /// the server notices that its client is gone.
    private func waitingOutLock<T>(_ body: () async throws(RunnerError) -> T) async throws(RunnerError) -> T {
        var attempt = 0
        while true {
            do throws(RunnerError) {
                return try await body()
            } catch .locked where attempt < 10 {
                attempt += 1
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// History from the tracking row, unless the phase's own entry made it; false
    /// when the state store cannot say or take it.
    private func recordMissingHistory(_ name: String, step: PlannedStep, _ record: TrackingRecord) async -> Bool {
        guard let history = try? await store.history(database: name, limit: 50) else { return false }
        guard !history.contains(where: { $0.revision == step.revision && $0.phase == step.phase && $0.outcome == "applied" }) else { return true }
        let finished = record.finishedAt ?? clock()
        let entry = HistoryEntry(
            database: name, revision: step.revision, phase: step.phase, outcome: "applied",
            startedAt: record.startedAt ?? finished, finishedAt: finished, rows: record.rowsAffected, error: nil,
            actor: record.appliedBy.isEmpty ? actorName : record.appliedBy)
        do {
            try await store.appendHistory(entry)
            logger.notice("\(step) had committed before droverd stopped; history has it now", metadata: ["db": "\(name)"])
            return true
        } catch {
            logger.warning("cannot record the history of \(step): \(error)", metadata: ["db": "\(name)"])
            return false
        }
    }
}
