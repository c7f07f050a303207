import DroverCore
import DroverProtocol
import Foundation

extension Fleet {
    /// One row per database and per tier (docs/cli.md); `tier`, `database`, `state`:
    /// only the databases that match, filtered before their rows are built.
    public func status(tier: String? = nil, database: String? = nil, state wanted: DatabaseStateWord? = nil) -> FleetStatus {
        let now = clock()
        heapTrim.worked(at: .now)  // 10,000 rows built and dropped
        // Read once: a method called on the actor's stored struct copies it (every
        // dictionary retained and released) for each call, ten calls a row.
        let scheduler = self.scheduler, manifest = self.manifest
        var rows: [FleetStatus.DatabaseRow] = []
        // Every row, unless filtered: grown from empty, 100,000 rows were copied and overshot.
        if tier == nil && database == nil && wanted == nil { rows.reserveCapacity(manifest.databases.count + discovery.gone.count) }
        // Assigned once per manifest by the scheduler: at 100,000 databases assigning
        // them again took a good part of a status call.
        var assignments: [String: (WaveAssignment, [WaveSpec])] = [:]
        for tierName in manifest.fleet.pipeline where tier == nil || tierName == tier {
            assignments[tierName] = (scheduler.waveAssignmentKnown(tier: tierName), manifest.waves(ofTier: tierName))
        }
        func waveName(_ spec: DatabaseSpec) -> String? {
            guard let (assignment, waves) = assignments[spec.tier], let index = assignment.wave(of: spec.name) else { return nil }
            return waves[index].name
        }
        // Thousands of databases share a few windows and servers: compute each once.
        var nextOpenings: [String: String?] = [:]
        var servers: [String: String?] = [:]
        let throttled = throttles.current
        // One pass over the tiers' databases: every state word is needed for the
        // tier rows anyway; rows are built only for the databases asked for.
        var tallies: [String: TierTally] = [:]
        var facts: Scheduler.TierFacts?
        for spec in manifest.databases where tier == nil || spec.tier == tier {
            facts = scheduler.facts(for: spec, known: facts)
            let word = scheduler.stateWord(of: spec, now: now, facts: facts)
            tallies[spec.tier, default: TierTally()].count(word)
            guard database == nil || spec.name == database, wanted == nil || word == wanted else { continue }
            let state = scheduler.revisionStates[spec.name] ?? RevisionState(graph: graph, records: [])
            let runtime = scheduler.runtime[spec.name]
            let observation = scheduler.observations[spec.name]
            if nextOpenings[spec.window] == nil {
                let schedule = manifest.windows[spec.window].map(WindowSchedule.init)
                nextOpenings[spec.window] = .some(
                    schedule.flatMap { schedule in
                        schedule.isOpen(at: now) ? now : schedule.nextOpening(after: now)?.start
                    }.map(Self.isoTime))
            }
            if servers[spec.dsn] == nil { servers[spec.dsn] = .some(ConninfoInspection.server(of: spec.dsn)) }
            rows.append(
                FleetStatus.DatabaseRow(
                    name: spec.name,
                    tier: spec.tier,
                    wave: waveName(spec),
                    server: servers[spec.dsn] ?? nil,
                    schema: spec.schema,
                    expanded: state.expanded,
                    contracted: state.contracted,
                    target: scheduler.target(ofTier: spec.tier),
                    state: word,
                    next_window: nextOpenings[spec.window] ?? nil,
                    error: runtime?.failure?.message
                        ?? (observation?.reachable == false ? observation?.problem ?? "unreachable" : nil)
                            ?? runtime?.heldBecause ?? scheduler.alembicHold(spec.name) ?? pauseReason(of: spec),
                    alembic: observation?.alembicVersions?.joined(separator: ","),
                    throttled: throttled[spec.name] ?? runtime?.throttledBecause,
                    drift: driftWatch.reports[spec.name].map(DriftWatch.describe)
                ))
        }
        for spec in discovery.gone.values.sorted(by: { $0.name < $1.name })
        where (tier == nil || spec.tier == tier) && (database == nil || spec.name == database) && (wanted == nil || wanted == .gone) {
            let state = RevisionState(graph: graph, records: scheduler.observations[spec.name]?.records ?? [])
            rows.append(
                FleetStatus.DatabaseRow(
                    name: spec.name, tier: spec.tier, wave: nil, server: ConninfoInspection.server(of: spec.dsn), schema: spec.schema,
                    expanded: state.expanded, contracted: state.contracted, target: nil, state: .gone, next_window: nil, error: nil, alembic: nil))
        }
        let tiers = manifest.fleet.pipeline.filter { tier == nil || $0 == tier }.map { tierRow($0, tallies[$0] ?? TierTally()) }
        return FleetStatus(databases: rows, tiers: tiers, state_store_error: stateStoreProblem, leader: leaderRow, instances: instanceRows)
    }

    /// Why a paused database (or its tier) is paused, when an operator said.
    private func pauseReason(of spec: DatabaseSpec) -> String? {
        guard scheduler.pausedDatabases.contains(spec.name) else {
            return scheduler.tiers[spec.tier]?.paused == true ? scheduler.tiers[spec.tier]?.pauseReason : nil
        }
        return scheduler.pauseReasons[spec.name]
    }

    private var leaderRow: FleetStatus.LeaderRow? {
        let holder: LeaderElection.Holder? =
            switch role {
            case .sole: nil
            case .leader(let holder): holder
            case .follower(let leader): leader
            }
        return holder.map { FleetStatus.LeaderRow(instance: $0.instance, host: $0.host, pid: Int($0.pid), since: Self.isoTime($0.since), term: Int($0.term)) }
    }

    private var instanceRows: [FleetStatus.InstanceRow]? {
        guard let leadership else { return nil }
        return leadership.instances.map {
            FleetStatus.InstanceRow(
                id: $0.id, host: $0.host, pid: Int($0.pid), role: $0.role, started_at: Self.isoTime($0.startedAt),
                heartbeat_at: Self.isoTime($0.heartbeatAt), this: $0.id == leadership.instance.id)
        }
    }

    /// A tier's databases by state, from the pass that builds the rows.
    private struct TierTally {
        var all = 0
        var done = 0

        mutating func count(_ word: DatabaseStateWord) {
            all += 1
            if word == .current || word == .waitingRelease { done += 1 }
        }
    }

    private func tierRow(_ tier: String, _ tally: TierTally) -> FleetStatus.TierRow {
        let control = scheduler.tiers[tier] ?? TierControl()
        let target = scheduler.target(ofTier: tier)
        // Few fail: their names, in the manifest's order.
        let failedNames = scheduler.failedNames
        let failed = failedNames.isEmpty ? [] : manifest.databases.filter { $0.tier == tier && failedNames.contains($0.name) }.map(\.name)
        let waves = manifest.waves(ofTier: tier)
        let current = waves.indices.first { control.wavesFinished[$0] == nil }.map { waves[$0].name } ?? waves.last?.name
        let state: String
        if control.paused {
            state = "paused"
        } else if control.halt != nil {
            state = "halted"
        } else if target == nil {
            state = "idle"
        } else if tally.done == tally.all {
            state = "done"
        } else {
            state = "rolling"
        }
        return FleetStatus.TierRow(
            name: tier, target: target, released: control.released, state: state, wave: current, failed: failed,
            release_waiting_on: releaseGates.waitingOn[tier])
    }

    /// A one-line summary for systemd's STATUS= and the log:
    /// "production 1/1 at 3f2a9c1e; tenants wave 2/3, 40/120 at 3f2a9c1e halted; 1 failed".
    public func summary() -> String {
        var parts: [String] = []
        var failedCount = 0
        for tier in manifest.fleet.pipeline {
            guard let target = scheduler.target(ofTier: tier) else { continue }
            let members = manifest.databases.filter { $0.tier == tier }
            let done = members.count { scheduler.isExpanded($0.name, to: target) }
            failedCount += members.count { scheduler.runtime[$0.name]?.failure != nil }
            let waves = manifest.waves(ofTier: tier)
            let finished = (scheduler.tiers[tier]?.wavesFinished.count ?? 0)
            let wave = waves.count > 1 ? " wave \(min(finished + 1, waves.count))/\(waves.count)," : ""
            let held = scheduler.tiers[tier]?.halt != nil ? " halted" : scheduler.tiers[tier]?.paused == true ? " paused" : ""
            parts.append("\(tier)\(wave) \(done)/\(members.count) at \(target.prefix(8))\(held)")
        }
        if failedCount > 0 { parts.append("\(failedCount) failed") }
        let throttled = Set(throttles.current.keys).union(scheduler.throttledWaits.keys).count
        if throttled > 0 { parts.append("\(throttled) backfill\(throttled == 1 ? "" : "s") throttled") }
        if !driftWatch.reports.isEmpty { parts.append("\(driftWatch.reports.count) drifted") }
        for tier in manifest.fleet.pipeline { if let waiting = releaseGates.waitingOn[tier] { parts.append("release_when waits: \(waiting)") } }
        if stateStoreProblem != nil { parts.insert("state store not writable, no phase starts", at: 0) }
        switch role {
        case .sole: break
        case .leader: parts.insert("leader", at: 0)
        case .follower(let leader): parts.insert(leader.map { "follower of \($0.host) (pid \($0.pid))" } ?? "follower, no leader", at: 0)
        }
        return parts.isEmpty ? "idle" : parts.joined(separator: "; ")
    }

    public static func isoTime(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .colon))
    }
}
