import DroverCore
import DroverPostgres
import DroverRunner
import Foundation

extension Fleet {
    /// Runs a lane of schema tenants (`LaneBuilder`, `LaneRunner`) in one task on
    /// the Postgres threads, their intents recorded. Each tenant's end goes into
    /// `phaseEnds` as it happens; the loop is woken once, when the lane is done
    /// (its slot is free only then) or stopped at a failure. A cancel of any
    /// member cancels the lane: the tenant running rolls back, the rest go back
    /// to the scheduler unstarted.
    func launchLane(_ starts: [Round.Start], at now: Date) {
        let runner = LaneRunner(runner: makeRunner())
        let fleet = manifest.fleet
        var members: [LaneRunner.Member] = []
        for start in starts {
            let name = start.spec.name
            readSchedule.phaseEvent(name)
            logger.info(
                "starting \(start.step) (lane of \(starts.count))",
                metadata: ["db": "\(name)", "revision": "\(start.step.revision)", "phase": "\(start.step.phase.rawValue)"])
            emit("start", "\(start.step)", database: name, step: start.step)
            let target: DatabaseTarget
            do throws(RunnerError) {
                target = try DatabaseTarget(start.spec, fleet: fleet)
            } catch {
                // Its password file cannot be read: it fails alone, as a phase of its own would.
                phaseEnds.deposit(PhaseCompletion(database: name, step: start.step, startedAt: now, result: .failure(error)))
                continue
            }
            // Rows were read from it: the phase may read them with the lock.
            members.append(LaneRunner.Member(target: target, step: start.step, trackingTableSeen: scheduler.observations[name]?.records.isEmpty == false))
        }
        let (reused, broken) = connections.take(connectionKey(starts[0].spec))
        for connection in broken { Task { await connection.close() } }
        let ends = phaseEnds, wake = wake
        let task = Task(executorPreference: PostgresExecutor.shared) {
            #if DROVER_TEST_HOOKS
            let usedBefore = PhaseConnectionUse.of(reused)
            #endif
            // Each end is left as the next one comes; the last carries the connection.
            var last: PhaseCompletion?
            func end(_ index: Int, _ result: Result<PhaseOutcome, RunnerError>?) {
                if let last { ends.deposit(last) }
                last = PhaseCompletion(database: members[index].target.name, step: members[index].step, startedAt: now, result: result)
            }
            let (kept, notRun) = await runner.run(members, connection: reused) { index, result in end(index, result) }
            for index in notRun..<members.count { end(index, nil) }
            last?.connection = kept
            #if DROVER_TEST_HOOKS
            last?.used = kept.map { PhaseConnectionUse.of($0) - ($0 === reused ? usedBefore : PhaseConnectionUse()) }
            #endif
            if let last { ends.deposit(last) }
            wake.signal()
        }
        for start in starts { running[start.spec.name] = task }
    }
}
