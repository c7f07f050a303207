import DroverCore
import DroverPostgres
import DroverRunner
import Foundation

/// How a phase's task ended, as it leaves it for the loop.
struct PhaseCompletion: Sendable {
    var database: String
    var step: PlannedStep
    var startedAt: Date
    /// Nil when its lane stopped before it (a failure, a cancel): it never started.
    var result: Result<PhaseOutcome, RunnerError>?
    /// The connection, for the next phase there.
    var connection: PostgresConnection? = nil
    #if DROVER_TEST_HOOKS
    var used: PhaseConnectionUse? = nil
    #endif
}

extension Fleet {
    /// The phases that ended since the last round, fed to the scheduler; returns
    /// the round with what the state store must keep of them.
    func takePhaseEnds() -> Round {
        var round = Round()
        for completion in phaseEnds.takeAll() {
            running[completion.database] = nil
            throttles.set(completion.database, nil)
            readSchedule.phaseEvent(completion.database)
            heapTrim.worked(at: .now)
            if let connection = completion.connection, let spec = scheduler.database(named: completion.database) {
                connections.keep(connection, for: connectionKey(spec), at: .now)
            }
            #if DROVER_TEST_HOOKS
            if let used = completion.used { phaseConnectionUse += used }
            #endif
            switch completion.result {
            case .success(let outcome): round.ends += applied(outcome, completion)
            case .failure(let error): round.ends.append(failed(error, completion))
            case nil:
                // Its intent goes; the scheduler may choose it again.
                scheduler.phaseNotStarted(completion.database)
                round.ends.append(PhaseEnd(database: completion.database, step: completion.step, history: nil, result: .notApplied(failure: nil)))
            }
        }
        return round
    }

    private func applied(_ outcome: PhaseOutcome, _ completion: PhaseCompletion) -> [PhaseEnd] {
        let (name, step, now) = (completion.database, completion.step, clock())
        let spec = scheduler.database(named: name)
        scheduler.phaseSucceeded(name, step: step, at: now, duration: outcome.duration, alembicVersions: outcome.alembicVersions)
        // The scheduler knows what the phase did, and the phase read the tracking
        // rows under the lock: that counts as a read. During a rollout the polls
        // of moving databases were a good part of the server's work.
        readSchedule.read(name, at: now, atRest: scheduler.isAtRest(name))
        if outcome.snapshot == nil, let spec, spec.schema != nil { queueFingerprint(of: spec, revision: step.revision) }
        if outcome.snapshot != nil { driftWatch.fingerprintsChanged() }
        if !outcome.alreadyApplied, let spec {
            phaseCounters.phaseEnded(
                tier: spec.tier, phase: step.phase, .applied, seconds: outcome.duration.seconds, rows: outcome.rows, retries: max(outcome.attempts - 1, 0))
        }
        logger.info("\(step) applied", metadata: ["db": "\(name)", "rows": "\(outcome.rows)"])
        emit("applied", "\(step): \(outcome.rows) rows", database: name, step: step)
        let history =
            outcome.alreadyApplied
            ? nil
            : HistoryEntry(
                database: name, revision: step.revision, phase: step.phase, outcome: "applied", startedAt: completion.startedAt, finishedAt: now,
                rows: outcome.rows, error: nil, actor: actorName, output: outcome.output)
        let key = "\(spec?.tier ?? "")/\(step.revision)/\(step.phase.rawValue)"
        let end = PhaseEnd(
            database: name, step: step, history: history,
            result: .applied(expectedDuration: (key, outcome.duration), fingerprint: outcome.snapshot.map { (step.revision, $0) }))
        return [end] + appliedTogether(outcome, on: name, startedAt: completion.startedAt, at: now)
    }

    /// The revisions one `alembic upgrade` run applied besides the step it was
    /// started for: each counts as applied, with its own history entry and event.
    private func appliedTogether(_ outcome: PhaseOutcome, on name: String, startedAt: Date, at now: Date) -> [PhaseEnd] {
        outcome.appliedTogether.map { revision in
            let step = PlannedStep(revision: revision, phase: outcome.phase)
            scheduler.phaseSucceeded(name, step: step, at: now, duration: .zero, alembicVersions: outcome.alembicVersions)
            logger.info("\(step) applied (in the same alembic upgrade as \(outcome.revision))", metadata: ["db": "\(name)"])
            emit("applied", "\(step): in the same alembic upgrade as \(outcome.revision)", database: name, step: step)
            let history = HistoryEntry(
                database: name, revision: revision, phase: outcome.phase, outcome: "applied", startedAt: startedAt, finishedAt: now,
                rows: 0, error: nil, actor: actorName, output: nil)
            return PhaseEnd(database: name, step: step, history: history, result: .appliedAlong)
        }
    }

    private func failed(_ error: RunnerError, _ completion: PhaseCompletion) -> PhaseEnd {
        let (name, step, now) = (completion.database, completion.step, clock())
        let failure = Self.classify(error)
        var stored: DatabaseRuntime.Failure?
        for action in scheduler.phaseFailed(name, step: step, failure, at: now) {
            switch action {
            case .persist(.failure(_, let kept)): stored = kept  // with the round
            case .readSoon(let name): readSchedule.soon(name)
            default: break
            }
        }
        if case .throttled = failure {
            logger.notice("\(step) gave back its slot: \(error)", metadata: ["db": "\(name)"])
        } else {
            logger.error("\(step) did not complete: \(error)", metadata: ["db": "\(name)"])
        }
        switch failure {
        case .tampered: emit("tampered", error.description, database: name, step: step)
        case .cancelled: emit("cancelled", error.description, database: name, step: step)
        case .throttled: break  // still throttled, for `watch` (`announceThrottles`)
        default: emit("failed", error.description, database: name, step: step)
        }
        // A failure, and a phase stopped part-way (operator, window end), are history;
        // a wait (unreachable, locked) is not.
        let outcome: String? =
            switch failure {
            case .failed: "failed"
            case .cancelled: "cancelled"
            default: nil
            }
        if let counted = outcome.flatMap(PhaseCounters.Outcome.init(rawValue:)), let tier = scheduler.database(named: name)?.tier {
            let retries: Int =
                switch error {
                case .lockTimeoutExhausted(_, _, _, let attempts, _, _), .connectionFailed(_, let attempts, _): max(attempts - 1, 0)
                default: 0
                }
            phaseCounters.phaseEnded(tier: tier, phase: step.phase, counted, seconds: now.timeIntervalSince(completion.startedAt), rows: 0, retries: retries)
        }
        let history = outcome.map {
            HistoryEntry(
                database: name, revision: step.revision, phase: step.phase, outcome: $0, startedAt: completion.startedAt, finishedAt: now,
                rows: 0, error: error.description, actor: actorName, output: error.output)
        }
        return PhaseEnd(database: name, step: step, history: history, result: .notApplied(failure: stored))
    }

    /// Tells `watch` (and the log) when a backfill starts or stops waiting.
    func announceThrottles() {
        // A backfill between two runs (it gave back its slot) is still throttled.
        let current = throttles.current.merging(scheduler.throttledWaits) { running, _ in running }
        guard current != announcedThrottles else { return }
        for (name, reason) in current.sorted(by: { $0.key < $1.key }) where announcedThrottles[name] != reason {
            emit("throttled", reason, database: name)
        }
        for name in announcedThrottles.keys.sorted() where current[name] == nil {
            emit("throttle-lifted", "the backfill goes on", database: name)
        }
        announcedThrottles = current
    }

    /// How long a backfill that waited `max_wait` throttled keeps its slot free
    /// (at most `max_wait`).
    static let throttledRetry: Duration = .seconds(60)

    static func classify(_ error: RunnerError) -> PhaseFailure {
        switch error {
        case .locked(_, let pid): .locked(pid: pid, retryAfter: .seconds(30))
        case .connectionFailed: .unreachable(error.description, retryAfter: .seconds(15))
        case .cancelled: .cancelled
        case .throttledTooLong(_, _, let waited, let reason): .throttled(reason, retryAfter: min(waited, throttledRetry))
        case .tampered(_, let sections): .tampered(sections)
        default: .failed(error.description)
        }
    }
}
