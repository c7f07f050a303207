import DroverCore
import DroverPostgres
import DroverProtocol
import DroverRunner
import Foundation

/// The daemon's internal API: one method per `droverctl` command that changes or
/// reads fleet state. The control plane puts these on the socket; tests call them.
extension [SchedulerAction] {
    /// The tiers these actions write, in order.
    var changedTiers: [String] {
        compactMap { if case .persist(.tier(let tier, _)) = $0 { tier } else { nil } }
    }
}

extension Fleet {
    /// Sets the next tier's target (docs/states.md). Promoting the current target again
    /// changes nothing and says so.
    @discardableResult
    /// `planHash`: the `plan_hash` the operator approved; the promotion is refused
    /// when the plan changed since (required for the tiers `fleet.require_plan_hash`
    /// names).
    public func promote(
        _ revision: String, to tier: String? = nil, force: Bool = false, reason: String? = nil, planHash: String? = nil, by caller: Caller = .daemon
    ) async throws(FleetError) -> String {
        let id = try resolve(revision)
        let pipeline = manifest.fleet.pipeline
        guard pipeline.count > 1 || tier != nil else { throw .invalidParameter("to", reason: "the pipeline has one tier: nothing to promote to") }
        let destination = tier ?? pipeline[1]
        try checkTier(destination)
        var audited = ["revision": id, "tier": destination, "force": String(force), "reason": reason ?? ""]
        if let planHash {
            let current = try await plan(id, to: destination).plan_hash
            guard planHash == current else { throw .planChanged(revision: id, tier: destination, approved: planHash, current: current) }
            audited["plan_hash"] = planHash
        } else if manifest.fleet.requirePlanHash.contains(destination) {
            throw .invalidParameter(
                "plan_hash", reason: "fleet.require_plan_hash names \(destination): promote needs --plan-hash from 'droverctl plan \(id) --to \(destination)'")
        }
        let fingerprints = await fingerprintDigests(at: id)
        var decision = scheduler.promote(id, to: destination, fingerprints: fingerprints, force: false)
        if case .refused(let refusal) = decision {
            guard force else { throw .promotionRefused(revision: id, tier: destination, reason: refusal) }
            guard let reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw .invalidParameter("reason", reason: "--force needs --reason: say why the gate is overridden (it goes to the audit log)")
            }
            logger.warning("promotion of \(id) to \(destination) forced: \(refusal); reason: \(reason)")
            decision = scheduler.promote(id, to: destination, fingerprints: fingerprints, force: true)
        }
        let message: String
        switch decision {
        case .refused(let refusal):
            throw .promotionRefused(revision: id, tier: destination, reason: refusal)
        case .unchanged:
            message = "\(destination) already has target \(id); nothing changed"
        case .accepted(let actions):
            try await commit(actions, "the promotion of \(id) to \(destination)")
            message = "\(destination) now targets \(id)"
        }
        await audit("promote", audited, message, caller)
        return message
    }

    /// Allows contracts up to `revision` in `tier`, or in every tier.
    @discardableResult
    public func release(_ revision: String, tier: String? = nil, by caller: Caller = .daemon) async throws(FleetError) -> String {
        let id = try resolve(revision)
        let tiers =
            try tier.map { name throws(FleetError) in
                try checkTier(name)
                return [name]
            } ?? manifest.fleet.pipeline
        let message: String
        switch scheduler.release(id, tiers: tiers) {
        case .refused(let refusal):
            throw .invalidParameter("revision", reason: refusal)
        case .unchanged:
            message = "\(id) was already released; nothing changed"
        case .accepted(let actions):
            try await commit(actions, "the release of \(id)")
            message = "released \(id) in \(actions.changedTiers.joined(separator: ", "))"
        }
        await audit("release", ["revision": id, "tier": tier ?? "*"], message, caller)
        return message
    }

    /// Pins a tier's target (preview, or rolling a tier's target back before its contract).
    @discardableResult
    public func deploy(_ revision: String, tier: String, by caller: Caller = .daemon) async throws(FleetError) -> String {
        let id = try resolve(revision)
        try checkTier(tier)
        let message: String
        switch scheduler.deploy(id, tier: tier) {
        case .refused(let refusal):
            throw .invalidParameter("revision", reason: refusal)
        case .unchanged:
            message = "\(tier) is already pinned to \(id); nothing changed"
        case .accepted(let actions):
            try await commit(actions, "the pin of \(tier) to \(id)")
            message = "\(tier) pinned to \(id)"
        }
        await audit("deploy", ["revision": id, "tier": tier], message, caller)
        return message
    }

    @discardableResult
    public func pause(tier: String? = nil, database: String? = nil, by caller: Caller = .daemon) async throws(FleetError) -> String {
        try await setPaused(true, tier: tier, database: database, caller: caller)
    }

    @discardableResult
    public func resume(tier: String? = nil, database: String? = nil, by caller: Caller = .daemon) async throws(FleetError) -> String {
        try await setPaused(false, tier: tier, database: database, caller: caller)
    }

    private func setPaused(_ paused: Bool, tier: String?, database: String?, caller: Caller) async throws(FleetError) -> String {
        let verb = paused ? "paused" : "resumed"
        let message: String
        if let database {
            try checkDatabase(database)
            switch scheduler.setPaused(paused, database: database) {
            case .refused(let refusal):
                throw .invalidParameter("db", reason: refusal)
            case .unchanged:
                message = "\(database) was already \(paused ? "paused" : "running"); nothing changed"
            case .accepted(let actions):
                try await commit(actions, "the \(paused ? "pause" : "resumption") of \(database)")
                message = "\(database) \(verb)"
            }
        } else {
            let tiers =
                try tier.map { name throws(FleetError) in
                    try checkTier(name)
                    return [name]
                } ?? manifest.fleet.pipeline
            // Resuming a halted tier changes it even when it was not paused.
            switch paused ? scheduler.pause(tiers: tiers) : scheduler.resume(tiers: tiers) {
            case .refused(let refusal):
                throw .invalidParameter("tier", reason: refusal)
            case .unchanged:
                message = "\(tiers.joined(separator: ", ")) \(tiers.count == 1 ? "was" : "were") already \(paused ? "paused" : "running"); nothing changed"
            case .accepted(let actions):
                try await commit(actions, "the \(paused ? "pause" : "resumption") of tier \(tiers.joined(separator: ", "))")
                message = "\(actions.changedTiers.joined(separator: ", ")) \(verb)"
            }
        }
        await audit(paused ? "pause" : "resume", ["tier": tier ?? "", "db": database ?? ""], message, caller)
        return message
    }

    /// Writes a command's changes before it is answered, each taken by the
    /// scheduler once written: a crash right after the answer cannot lose it, and a
    /// change the state store refuses is not made. What follows from a change (a
    /// lifted halt retries its databases) is carried out as the scheduler's own.
    private func commit(_ actions: [SchedulerAction], _ what: String) async throws(FleetError) {
        var round = Round()
        for action in actions {
            guard case .persist(let change) = action else {
                await execute([action], round: &round)
                continue
            }
            do {
                try await store.save(change)
                stateStoreWritable()
            } catch {
                throw .stateStore("cannot record \(what), so it was not made: \(stateStoreFailed(error))")
            }
            await execute(scheduler.persisted(change), round: &round)
        }
    }

    /// Stops the running phase of a database, or every phase running in a tier, now
    /// (docs/operations.md): PQcancel, so a transactional phase rolls back and a
    /// no-transaction section stops after its statement (and resumes there later).
    /// What was cancelled is paused, with who cancelled it and why, until
    /// `resume`. Answers once the phases have stopped (or after `cancelWait`).
    @discardableResult
    public func cancel(tier: String? = nil, database: String? = nil, reason: String? = nil, by caller: Caller = .daemon) async throws(FleetError) -> String {
        let said = "cancelled by \(caller.name ?? "droverd")" + (reason.map { ": \($0)" } ?? "")
        let decision: CommandDecision
        if let database {
            try checkDatabase(database)
            decision = scheduler.cancel(database: database, reason: said)
        } else if let tier {
            try checkTier(tier)
            decision = scheduler.cancel(tier: tier, reason: said)
        } else {
            throw .invalidParameter("db", reason: "cancel needs a database or --tier")
        }
        guard case .accepted(let actions) = decision else {
            let refusal = if case .refused(let why) = decision { why } else { "nothing to cancel" }
            throw .invalidParameter(database == nil ? "tier" : "db", reason: refusal)
        }
        let started = ContinuousClock.now
        let phases = actions.compactMap { if case .cancel(let name, let step, _) = $0 { (name, step, running[name]) } else { nil } }
        try await commit(actions, "the cancellation")
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: Self.cancelWait) }
            group.addTask { for (_, _, task) in phases { await task?.value } }
            await group.next()
            group.cancelAll()
        }
        let took = ContinuousClock.now - started
        let what = phases.map { "\($0.1) on \($0.0)" }.joined(separator: ", ")
        let message = "cancelled \(what) in \(Int(took.seconds * 1000)) ms; \(database ?? tier ?? "") paused until 'droverctl resume'"
        await audit("cancel", ["tier": tier ?? "", "db": database ?? "", "reason": reason ?? ""], message, caller)
        return message
    }

    /// How long `cancel` waits for the phases to stop before it answers.
    static let cancelWait: Duration = .seconds(30)

    /// Clears a database's failure so the scheduler tries it again now.
    @discardableResult
    public func retry(_ database: String, by caller: Caller = .daemon) async throws(FleetError) -> String {
        try checkDatabase(database)
        let failed = scheduler.runtime[database]?.failure != nil
        var round = Round()
        await execute(scheduler.retry(database), round: &round)
        let message = failed ? "retrying \(database)" : "\(database) has no failure to clear; it is read again now"
        await audit("retry", ["db": database], message, caller)
        return message
    }

    /// Runs a revision's revert on one database (only before its contract).
    @discardableResult
    public func revert(_ database: String, revision: String, by caller: Caller = .daemon) async throws(FleetError) -> String {
        let (runner, session) = try prepareManual(database, by: caller)
        let id = try resolve(revision)
        do {
            let outcome = try await runner.run(PlannedStep(revision: id, phase: .revert), on: session)
            await session.close()
            readSchedule.soon(database)
            try? await store.appendHistory(
                HistoryEntry(
                    database: database, revision: id, phase: .revert, outcome: "reverted", startedAt: clock().addingTimeInterval(-outcome.duration.seconds),
                    finishedAt: clock(), rows: outcome.rows, error: nil, actor: caller.name ?? actorName))
            await audit("revert", ["db": database, "revision": id], "reverted", caller)
            return "reverted \(id) on \(database)"
        } catch {
            await session.close()
            throw .phaseFailed(database: database, error)
        }
    }

    /// Records a revision (or one phase of it) as applied without running it.
    @discardableResult
    public func stamp(_ database: String, revision: String, phase: Phase? = nil, reason: String, by caller: Caller = .daemon) async throws(FleetError) -> String
    {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .invalidParameter("reason", reason: "stamp needs --reason (it goes to the audit log)")
        }
        let id = try resolve(revision)
        let steps = try await recordStamp(database, revisions: [id], phase: phase, note: reason, by: caller)
        let message = "stamped \(steps.map(\.description).joined(separator: ", ")) on \(database)"
        await audit("stamp", ["db": database, "revision": id, "phase": phase?.rawValue ?? "", "reason": reason], message, caller)
        return message
    }

    /// Stamps in the database and writes the history; the caller audits.
    func recordStamp(_ database: String, revisions: [String], phase: Phase?, note: String, by caller: Caller) async throws(FleetError) -> [PlannedStep] {
        let (runner, session) = try prepareManual(database, by: caller)
        do {
            let steps = try await runner.stamp(revisions, phase: phase, note: note, on: session)
            await session.close()
            var round = Round()
            await execute(scheduler.stamped(database, steps: steps), round: &round)
            for step in steps {
                try? await store.appendHistory(
                    HistoryEntry(
                        database: database, revision: step.revision, phase: step.phase, outcome: "stamped", startedAt: clock(), finishedAt: clock(), rows: 0,
                        error: nil, actor: caller.name ?? actorName))
            }
            return steps
        } catch {
            await session.close()
            throw .phaseFailed(database: database, error)
        }
    }

    public func history(_ database: String? = nil) async throws(FleetError) -> [HistoryEntry] {
        if let database { try checkDatabase(database) }
        do { return try await store.history(database: database) } catch { throw .stateStore("\(error)") }
    }

    /// Databases whose schema differs from the others at the same revision (docs/daemon.md).
    /// `settled`: first wait for the fingerprints still queued (metrics take what is there).
    public func drift(settled: Bool = true) async -> [DriftReport] {
        if settled { await fingerprintsSettled() }
        var reports: [DriftReport] = []
        let byRevision = Dictionary(
            grouping: manifest.databases.compactMap { spec -> (String, String)? in
                guard let records = scheduler.observations[spec.name]?.records, let expanded = RevisionState(graph: graph, records: records).expanded else {
                    return nil
                }
                return (expanded, spec.name)
            }, by: \.0)
        for (revision, members) in byRevision.sorted(by: { $0.key < $1.key }) {
            guard let digests = try? await store.fingerprintDigests(at: revision) else { continue }
            let present = members.map(\.1).compactMap { name in digests[name].map { (name, $0) } }.sorted { $0.0 < $1.0 }
            let comparison = DriftComparison(revision: revision, digests: present)
            guard let verdict = comparison.verdict, let snapshots = try? await store.fingerprints(at: revision, of: [verdict.reference] + verdict.drifted)
            else { continue }
            reports += comparison.reports(snapshots)
        }
        if settled { noteDrift(reports) }
        return reports
    }

    /// Re-reads manifest and migrations; on any error the old ones stay in force.
    @discardableResult
    public func reload(environment: [String: String] = ProcessInfo.processInfo.environment, by caller: Caller = .daemon) async throws(FleetError) -> String {
        emit("reloading", "re-reading \(definition.manifestDirectory) and the migrations")
        // Reading and parsing thousands of files blocks: on a thread for that, not on
        // the actor (or the cooperative pool).
        let directory = definition.manifestDirectory
        let read: @Sendable () -> Result<FleetDefinition, FleetError> = { FleetDefinition.load(manifestDirectory: directory, environment: environment) }
        let loaded = (try? await PostgresThreadPool.shared.runIfActive(read)) ?? read()
        switch loaded {
        case .failure(let error):
            logger.error("reload refused; still running on the previous manifest: \(error)")
            emit("reload-failed", error.description)
            throw error
        case .success(let loaded):
            await Failpoints.current.reach("reload")
            definition = loaded
            driftWatch.fingerprintsChanged()
            await discoverDue(force: true)
            let message = "reloaded: \(manifest.databases.count) databases, head \(loaded.repository.head ?? "none")"
            await audit("reload", [:], message, caller)
            return message
        }
    }

    // MARK: Helpers

    func resolve(_ revision: String) throws(FleetError) -> String {
        switch graph.resolve(revision) {
        case .success(let id): return id
        case .failure(let error): throw .unknownRevision(revision, reason: error.description)
        }
    }

    public func checkTier(_ tier: String) throws(FleetError) {
        guard manifest.fleet.pipeline.contains(tier) else { throw .unknownTier(tier, known: manifest.fleet.pipeline) }
    }

    public func checkDatabase(_ name: String) throws(FleetError) {
        guard scheduler.database(named: name) != nil else {
            throw .unknownDatabase(name, suggestion: Suggestion.nearest(to: name, in: manifest.databases.map(\.name)))
        }
    }

    private func prepareManual(_ database: String, by caller: Caller) throws(FleetError) -> (PhaseRunner, RunnerSession) {
        try checkDatabase(database)
        guard running[database] == nil else { throw .busy(database: database, reason: "a phase is running on it; try again when it has finished") }
        guard let spec = scheduler.database(named: database) else { throw .unknownDatabase(database, suggestion: nil) }
        do {
            // applied_by in the tracking table names the operator too.
            let actor = caller.name.map { "\($0) via \(actorName)" } ?? actorName
            return (makeRunner(actor: actor), RunnerSession(target: try DatabaseTarget(spec, fleet: manifest.fleet)))
        } catch {
            throw .phaseFailed(database: database, error)
        }
    }

    /// A changing request that was refused or failed: audited like a change, with
    /// the reason as its result.
    public func auditRefusal(_ action: String, _ parameters: [String: String], reason: String, by caller: Caller) async {
        await audit(action, parameters, "refused: \(reason)", caller)
    }

    func audit(_ action: String, _ parameters: [String: String], _ result: String, _ caller: Caller) async {
        let text = parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        do {
            try await store.appendAudit(action: action, parameters: text, result: result, uid: caller.uid, pid: caller.pid, at: clock())
            stateStoreWritable()
        } catch {
            logger.error("cannot write the audit log: \(stateStoreFailed(error))")
        }
        wake.signal()  // a change may let phases start: no need to wait for the tick
        logger.notice("\(action): \(result)", metadata: ["uid": "\(caller.uid.map(String.init) ?? "-")", "pid": "\(caller.pid.map(String.init) ?? "-")"])
        // Every change and refusal is also an event for `droverctl watch`.
        emit(
            action, result + (caller.name.map { " (by \($0))" } ?? ""), database: parameters["db"].flatMap { $0.isEmpty ? nil : $0 },
            tier: parameters["tier"].flatMap { $0.isEmpty || $0 == "*" ? nil : $0 }, revision: parameters["revision"])
    }
}
