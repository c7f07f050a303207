import Foundation

extension Scheduler {
    /// The state word a database shows in status (docs/states.md, §8).
    public func stateWord(of name: String, now: Date) -> DatabaseStateWord {
        guard let spec = database(named: name) else { return .gone }
        return stateWord(of: spec, now: now)
    }

    /// What a state word needs of a tier: the same for all its databases.
    public struct TierFacts: Sendable {
        public let tier: String
        let paused: Bool
        let target: String?
        let released: String?
    }

    public func tierFacts(_ tier: String) -> TierFacts {
        let target = target(ofTier: tier)
        return TierFacts(
            tier: tier, paused: tiers[tier]?.paused == true, target: target, released: target.flatMap { releasedThrough(tier: tier, target: $0) })
    }

    /// The same for a database of the manifest, not looked up again: status and
    /// the metrics ask this for every database, with `facts` of its tier kept
    /// from the database before (`facts(for:known:)`).
    public func stateWord(of spec: DatabaseSpec, now: Date, facts: TierFacts? = nil) -> DatabaseStateWord {
        let facts = facts ?? tierFacts(spec.tier)
        let name = spec.name
        let state = runtime[name] ?? .idle
        if let running = state.running {
            switch running.step.phase {
            case .expand, .revert: return .expanding
            case .backfill: return .backfilling
            case .contract: return .contracting
            }
        }
        if facts.paused || pausedDatabases.contains(name) { return .paused }
        // Between two runs of a backfill that gave back its slot while throttled.
        if state.throttledBecause != nil { return .backfilling }
        guard let observation = observations[name] else { return .pending }
        let cursors = revisionStates[name]
        if cursors?.isTampered == true { return .tampered }
        if state.failure != nil { return .failed }
        if !observation.reachable { return .unreachable }
        if observation.lockedBy != nil { return .locked }
        guard let target = facts.target else { return .current }
        // At the target, contracts included, or waiting only for a release: no
        // planning needed (status asks this for every database).
        if let cursors, cursors.expanded == target {
            if cursors.contracted == target { return .current }
            if cursors.contracted == facts.released { return .waitingRelease }
        }
        if let step = nextStep(name, tier: spec.tier, target: target, records: observation.records) {
            let policy = step.phase == .contract ? spec.settings.contract : spec.settings.expand
            if policy == .inWindow, let window = manifest.windows[spec.window],
                WindowSchedule(window).earliestStart(from: now, expected: expectedDuration(tier: spec.tier, step: step)) != now
            {
                return .waitingWindow
            }
            return .pending
        }
        // Everything released is applied; a contract of the target may still wait.
        let unreleased = PhasePlanner.steps(graph: graph, records: observation.records, target: target, contractThrough: target)
        return unreleased.isEmpty ? .current : .waitingRelease
    }

    /// The facts of `spec`'s tier: `known` when it is the same tier (a walk over the
    /// fleet meets the tiers' databases one after another).
    public func facts(for spec: DatabaseSpec, known: TierFacts?) -> TierFacts {
        if let known, known.tier == spec.tier { return known }
        return tierFacts(spec.tier)
    }

    /// In an Alembic project, the revision whose `alembic upgrade` applies `step`
    /// and the steps after it that share its gates (`AlembicStretch`); `nil` to run
    /// `step` alone.
    public func alembicStretch(of name: String, from step: PlannedStep) -> String? {
        guard graph.appliesInOrder, let spec = database(named: name), let target = target(ofTier: spec.tier),
            let records = observations[name]?.records
        else { return nil }
        let steps = PhasePlanner.steps(graph: graph, records: records, target: target, contractThrough: releasedThrough(tier: spec.tier, target: target))
        guard steps.first == step else { return nil }
        return AlembicStretch.through(steps, graph: graph)?.revision
    }

    /// Why drover leaves a database alone because of what its Alembic version table
    /// says, or `nil`. With drover's own SQL: a database Alembic manages and no one
    /// has adopted (drover would otherwise run every revision from the first on
    /// it). With an Alembic project: a database at an Alembic revision the
    /// repository does not have (a newer or foreign branch).
    public func alembicHold(_ name: String) -> String? {
        guard let observation = observations[name], let versions = observation.alembicVersions, !versions.isEmpty else { return nil }
        if graph.appliesInOrder {
            let unknown = versions.filter { graph[$0] == nil }
            guard !unknown.isEmpty else { return nil }
            return
                "at Alembic revision \(unknown.joined(separator: ", ")), which the repository does not have; drover leaves it alone until the repository has it"
        }
        guard !observation.records.contains(where: { graph[$0.revision] != nil }) else { return nil }
        return
            "managed by Alembic (at \(versions.joined(separator: ", "))) and not adopted: run 'droverctl adopt \(name)' to record those revisions, then drover moves it on"
    }

    /// Why `revision` may not be promoted to `tier` (docs/states.md), or `nil` when it may:
    /// every database of the previous tier has it expanded, none failed, and their
    /// schema fingerprints at it agree (`fingerprints`: database → digest, for the
    /// databases whose fingerprint was taken at `revision`).
    public func promotionRefusal(of revision: String, to tier: String, fingerprints: [String: String]) -> String? {
        guard graph[revision] != nil else { return "unknown revision \(revision)" }
        guard let index = manifest.fleet.pipeline.firstIndex(of: tier) else { return "unknown tier \(tier)" }
        guard index > 0 else { return "\(tier) is the first tier: it follows the repository head (pin it with deploy)" }
        let previous = manifest.fleet.pipeline[index - 1]
        let members = manifest.databases.filter { $0.tier == previous }.map(\.name)
        guard !members.isEmpty else { return "tier \(previous) has no databases to prove \(revision) on" }
        let failed = members.filter { runtime[$0]?.failure != nil }
        if !failed.isEmpty { return "\(previous) has failed database\(failed.count == 1 ? "" : "s"): \(failed.joined(separator: ", "))" }
        let behind = members.filter { !isExpanded($0, to: revision) }
        if !behind.isEmpty { return "\(revision) is not expanded on \(previous) database\(behind.count == 1 ? "" : "s") \(behind.joined(separator: ", "))" }
        let digests = Set(members.compactMap { fingerprints[$0] })
        if digests.count > 1 { return "schema drift between \(previous) databases at \(revision) (see droverctl drift)" }
        return nil
    }
}
