import DroverCore
import DroverPostgres
import DroverRunner
import Foundation

/// What one round writes to the state store in one transaction: the phases that
/// ended since the last round, then the intents of those that start now. The
/// starts launch once it is written.
struct Round {
    var ends: [PhaseEnd] = []
    var starts: [Start] = []

    struct Start {
        var spec: DatabaseSpec
        var step: PlannedStep
        /// The lane it runs in (`LaneBuilder`), or nil for a phase of its own.
        var lane: String?
    }
}

extension Fleet {
    /// Carries out actions the scheduler has already taken (its tick's, a retry's):
    /// starts join the round; state changes are written best effort (the machine
    /// holds them, and the next change of the same tier writes them again).
    func execute(_ actions: [SchedulerAction], round: inout Round) async {
        for action in actions {
            switch action {
            case .start(let name, let step):
                await prepareStart(step, on: name, round: &round)
            case .startLane(let members):
                for member in members { await prepareStart(member.step, on: member.database, lane: members[0].database, round: &round) }
            case .cancel(let name, let step, let reason):
                let because =
                    switch reason {
                    case .windowClosed(let end): "the maintenance window closed at \(Self.isoTime(end))"
                    case .operatorRequest(let said): said
                    }
                logger.notice("cancelling \(step): \(because)", metadata: ["db": "\(name)"])
                emit("cancel", because, database: name, step: step)
                running[name]?.cancel()
            case .halt(let tier, let wave, let failed):
                logger.error("tier halted: failures in wave \(wave) beyond its budget: \(failed.joined(separator: ", "))", metadata: ["tier": "\(tier)"])
                emit("halt", "wave \(wave): \(failed.joined(separator: ", ")) failed", tier: tier)
            case .waveFinished(let tier, let wave):
                logger.info("wave \(wave) finished", metadata: ["tier": "\(tier)"])
                emit("wave-finished", "wave \(wave) finished", tier: tier)
            case .persist(let change):
                guard role.startsPhases else { continue }  // a follower's copy is the leader's, read back
                do {
                    try await store.save(change)
                } catch {
                    logger.error("cannot save \(change): \(stateStoreFailed(error))")
                }
            case .readSoon(let name):
                readSchedule.soon(name)
            case .wakeUp:
                break  // the tick gate and the loop's sleep have it (`step`)
            }
        }
    }

    /// A start joins the round unless droverd itself must hold it back; its
    /// database's queued fingerprint is read first (it shows the schema the previous
    /// phase left).
    private func prepareStart(_ step: PlannedStep, on name: String, lane: String? = nil, round: inout Round) async {
        guard let spec = scheduler.database(named: name) else { return }
        let reason: String? =
            if !intentsReconciled(for: name) {
                "the phase in flight before the restart is not checked yet"
            } else if let leadership, !leadership.mayLead() {
                // The lease ran out since the tick (this process was stopped, or the state
                // database is out of reach): another droverd may lead by now.
                "this droverd no longer holds the lease"
            } else {
                nil
            }
        if let reason {
            scheduler.phaseFailed(name, step: step, .notStarted("\(step) not started: \(reason)", retryAfter: Self.notStartedRetry), at: clock())
            return
        }
        await fingerprintTaken(of: spec)
        round.starts.append(Round.Start(spec: spec, step: step, lane: lane))
    }

    /// Writes the round, then launches its starts. When the state store refuses,
    /// nothing starts (a phase never runs without its intent on disk: after a crash
    /// nothing else would tell which phase was in flight) and the ends are tried
    /// alone.
    func record(_ round: Round) async {
        guard !round.ends.isEmpty || !round.starts.isEmpty else { return }
        let now = clock()
        do {
            try await store.recordRound(ends: round.ends, intents: round.starts.map { ($0.spec.name, $0.step) }, at: now)
            stateStoreWritable()
        } catch {
            let problem = stateStoreFailed(error)
            for start in round.starts {
                let (name, step) = (start.spec.name, start.step)
                logger.error("not starting \(step): \(problem)", metadata: ["db": "\(name)"])
                scheduler.phaseFailed(name, step: step, .notStarted("\(step) not started: \(problem)", retryAfter: Self.notStartedRetry), at: now)
            }
            if !round.ends.isEmpty, !round.starts.isEmpty {
                await record(Round(ends: round.ends))
            } else if !round.ends.isEmpty {
                // The databases have the phases (their tracking tables are the truth);
                // only droverd's own record of them is missing.
                logger.error("the ends of \(round.ends.count) phase\(round.ends.count == 1 ? "" : "s") not recorded: \(problem)")
            }
            return
        }
        var lanes: [String: [Round.Start]] = [:]
        for start in round.starts {
            if let lane = start.lane { lanes[lane, default: []].append(start) } else { launch(start.step, on: start.spec, at: now) }
        }
        for members in lanes.values { members.count == 1 ? launch(members[0].step, on: members[0].spec, at: now) : launchLane(members, at: now) }
    }

    /// Runs the phase, its intent recorded, in its own task on the Postgres threads
    /// (its round trips run inline, not handed over); its end is left in
    /// `phaseEnds` for the next round.
    private func launch(_ step: PlannedStep, on spec: DatabaseSpec, at now: Date) {
        let name = spec.name
        readSchedule.phaseEvent(name)
        logger.info("starting \(step)", metadata: ["db": "\(name)", "revision": "\(step.revision)", "phase": "\(step.phase.rawValue)"])
        emit("start", "\(step)", database: name, step: step)
        let runner = makeRunner()
        let fleet = manifest.fleet
        let (reused, broken) = connections.take(connectionKey(spec))
        for connection in broken { Task { await connection.close() } }
        #if DROVER_TEST_HOOKS
        let usedBefore = PhaseConnectionUse.of(reused)
        #endif
        // Rows were read from it: the phase may read them with the lock.
        let trackingTableSeen = scheduler.observations[name]?.records.isEmpty == false
        // An Alembic project: the steps after this one that share its gates go along.
        let through = scheduler.alembicStretch(of: name, from: step)
        let ends = phaseEnds, wake = wake, throttles = throttles, hooks = hooks
        let gates = manifest.hooks.filter { $0.runs(on: .beforePhase, tier: spec.tier, phase: step.phase) }
        let gateEvent = hookEvent(.beforePhase, "\(step)", database: name, tier: spec.tier, step: step)
        running[name] = Task(executorPreference: PostgresExecutor.shared) {
            let result: Result<PhaseOutcome, RunnerError>
            var kept: PostgresConnection?
            var session: RunnerSession?
            do throws(RunnerError) {
                // before-phase hooks, in order: one that fails keeps the phase from starting.
                for gate in gates {
                    let ran = await hooks.run(gate, gateEvent)
                    await self.hookEnded(gate, gateEvent, ran)
                    if !ran.succeeded { throw RunnerError.hookFailed(database: name, command: gate.command, reason: ran.summary) }
                }
                session = RunnerSession(target: try DatabaseTarget(spec, fleet: fleet), connection: reused)
                session!.trackingTableSeen = trackingTableSeen
                session!.throttled = { reason in
                    throttles.set(name, reason)
                    wake.signal()
                }
                // A schema tenant's fingerprint comes with a batch (`Fleet+Fingerprints.swift`).
                let outcome = try await runner.run(step, on: session!, fingerprint: spec.schema == nil, alembicThrough: through)
                await Failpoints.current.reach("phase-after-commit")
                kept = session!.detach()
                result = .success(outcome)
            } catch {
                await session?.close()
                if session == nil { await reused?.close() }
                result = .failure(error)
            }
            #if DROVER_TEST_HOOKS
            // A reused connection that broke was replaced by a fresh one, counting from zero.
            let used = kept.map { PhaseConnectionUse.of($0) - ($0 === reused ? usedBefore : PhaseConnectionUse()) }
            ends.deposit(PhaseCompletion(database: name, step: step, startedAt: now, result: result, connection: kept, used: used))
            #else
            ends.deposit(PhaseCompletion(database: name, step: step, startedAt: now, result: result, connection: kept))
            #endif
            wake.signal()  // the database's next phase, or another's, may start now
        }
    }

    /// Remembers why the state store refused a write (status and STATUS= show it);
    /// returns the sentence.
    func stateStoreFailed(_ error: any Error) -> String {
        let problem = "droverd cannot write its state store \(store.path): \(error)"
        stateStoreProblem = problem
        phaseCounters.stateStoreFailed()
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
}
