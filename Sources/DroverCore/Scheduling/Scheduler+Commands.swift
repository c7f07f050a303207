import Foundation

/// Operators' commands as events of the machine (docs/states.md, §8). A command that must
/// outlive a crash before it is answered (promote, release, deploy, pause, resume)
/// changes nothing here: it returns the `persist` actions, the daemon writes them
/// and reports each with `persisted`, which takes the change. Commands whose
/// writes are best effort (retry, stamp) take effect at once.
extension Scheduler {
    /// `droverctl promote`: `tier`'s new target, if the previous tier proved it
    /// (`promotionRefusal`) or the operator overrides the gate (`force`).
    public func promote(_ revision: String, to tier: String, fingerprints: [String: String], force: Bool) -> CommandDecision {
        guard tiers[tier]?.target != revision else { return .unchanged }
        if !force, let refusal = promotionRefusal(of: revision, to: tier, fingerprints: fingerprints) { return .refused(refusal) }
        return retarget(tier, to: revision)
    }

    /// `droverctl deploy`: pins `tier` to `revision`, without the promotion gate.
    public func deploy(_ revision: String, tier: String) -> CommandDecision {
        guard tiers[tier]?.target != revision else { return .unchanged }
        return retarget(tier, to: revision)
    }

    private func retarget(_ tier: String, to revision: String) -> CommandDecision {
        var control = tiers[tier] ?? TierControl()
        control.target = revision
        control.wavesFinished = [:]  // the waves move again, for the new target
        return .accepted([.persist(.tier(tier, control))])
    }

    /// `droverctl release`: contracts up to `revision` may run in `tiers`.
    public func release(_ revision: String, tiers names: [String]) -> CommandDecision {
        let changes: [SchedulerAction] = names.compactMap { tier in
            var control = tiers[tier] ?? TierControl()
            guard control.released != revision else { return nil }
            control.released = revision
            return .persist(.tier(tier, control))
        }
        return changes.isEmpty ? .unchanged : .accepted(changes)
    }

    /// `droverctl cancel NAME`: the database's running phase stops now (it rolls
    /// back, or a no-transaction section stops after its statement) and the
    /// database is paused, so that nothing starts it again before `resume`.
    public func cancel(database name: String, reason: String) -> CommandDecision {
        guard let running = runtime[name]?.running else { return .refused("no phase runs on \(name)") }
        return .accepted([
            .persist(.paused(database: name, true, reason: reason)),
            .cancel(database: name, step: running.step, because: .operatorRequest(reason)),
        ])
    }

    /// `droverctl cancel --tier`: every phase running in the tier stops now, and the
    /// tier is paused.
    public func cancel(tier: String, reason: String) -> CommandDecision {
        let names = runningNames.filter { database(named: $0)?.tier == tier }.sorted()
        guard !names.isEmpty else { return .refused("no phase runs in tier \(tier)") }
        var control = tiers[tier] ?? TierControl()
        control.paused = true
        control.pauseReason = reason
        let cancels: [SchedulerAction] = names.compactMap { name in
            runtime[name]?.running.map { SchedulerAction.cancel(database: name, step: $0.step, because: .operatorRequest(reason)) }
        }
        return .accepted([.persist(.tier(tier, control))] + cancels)
    }

    /// `droverctl pause --tier`: the tiers start no new phase; running ones finish.
    public func pause(tiers names: [String]) -> CommandDecision {
        let changes: [SchedulerAction] = names.compactMap { tier in
            var control = tiers[tier] ?? TierControl()
            guard !control.paused else { return nil }
            control.paused = true
            return .persist(.tier(tier, control))
        }
        return changes.isEmpty ? .unchanged : .accepted(changes)
    }

    /// `droverctl resume --tier`: continue after a pause or a halt (the databases a
    /// halt named are retried when the change is taken: the operator has looked).
    public func resume(tiers names: [String]) -> CommandDecision {
        let changes: [SchedulerAction] = names.compactMap { tier in
            var control = tiers[tier] ?? TierControl()
            guard control.paused || control.halt != nil else { return nil }
            control.paused = false
            control.pauseReason = nil
            control.halt = nil
            return .persist(.tier(tier, control))
        }
        return changes.isEmpty ? .unchanged : .accepted(changes)
    }

    /// `droverctl pause|resume --db`.
    public func setPaused(_ paused: Bool, database name: String) -> CommandDecision {
        pausedDatabases.contains(name) == paused ? .unchanged : .accepted([.persist(.paused(database: name, paused, reason: nil))])
    }

    /// A change the daemon wrote to its state store: the machine takes it. Returns
    /// what follows from it (a lifted halt retries the databases it named).
    @discardableResult
    public mutating func persisted(_ change: StoredChange) -> [SchedulerAction] {
        switch change {
        case .tier(let tier, let control):
            let lifted = tiers[tier]?.halt.map { control.halt == nil ? $0.failed : [] } ?? []
            tiers[tier] = control
            return lifted.flatMap { retry($0) }
        case .paused(let name, let paused, let reason):
            if paused { pausedDatabases.insert(name) } else { pausedDatabases.remove(name) }
            pauseReasons[name] = paused ? reason : nil
        case .failure(let name, let failure):
            guard runtime[name]?.running == nil, runtime[name]?.failure != failure else { break }
            updateRuntime(name) { $0 = failure.map { .failed($0) } ?? .idle }
        }
        return []
    }

    /// `droverctl retry`: forget the failure (or the wait) and try again now. A
    /// halt lifts once every database it named has been retried.
    public mutating func retry(_ name: String) -> [SchedulerAction] {
        var actions: [SchedulerAction] = []
        if runtime[name]?.running == nil, runtime[name] != nil {
            if runtime[name]?.failure != nil { actions.append(.persist(.failure(database: name, nil))) }
            updateRuntime(name) { $0 = .idle }
        }
        for (tier, control) in tiers.sorted(by: { $0.key < $1.key }) {
            guard var halt = control.halt, halt.failed.contains(name) else { continue }
            halt.failed.removeAll { $0 == name }
            tiers[tier]?.halt = halt.failed.isEmpty ? nil : halt
            actions.append(.persist(.tier(tier, tiers[tier]!)))
        }
        return actions + [.readSoon(database: name)]
    }

    /// `droverctl stamp` (or `adopt`) recorded `steps` in the database: stamping the
    /// phase that failed says it is done, and the database moves on.
    public mutating func stamped(_ name: String, steps: [PlannedStep]) -> [SchedulerAction] {
        if let failure = runtime[name]?.failure, steps.contains(failure.step) { return retry(name) }
        return [.readSoon(database: name)]
    }
}
