import DroverCore
import DroverProtocol
import DroverRunner
import Foundation

/// What `promote` would do (docs/cli.md `plan`), and when each window opens.
extension Fleet {
    /// The databases of the tier in wave order, the phases each would run to reach
    /// `revision` (contracts up to what the tier has released), their SQL, and the
    /// earliest start of each window-bound phase; summed up by wave. A tier of more
    /// than `PlanReport.listLimit` databases is listed only with `all`. Changes nothing.
    public func plan(_ revision: String, to tier: String? = nil, all: Bool = false) async throws(FleetError) -> PlanReport {
        let id = try resolve(revision)
        let pipeline = manifest.fleet.pipeline
        let destination = tier ?? (pipeline.count > 1 ? pipeline[1] : pipeline[0])
        try checkTier(destination)
        let now = clock()
        let waves = manifest.waves(ofTier: destination)
        let members = manifest.databases.filter { $0.tier == destination }
        let assignment = WaveAssignment.assign(members.map { ($0.name, $0.labels) }, to: waves)
        let released = scheduler.tiers[destination]?.released.map { graph.isAncestor($0, of: id) ? $0 : id }
        let listing = all || members.count <= PlanReport.listLimit
        var rows: [PlanReport.DatabasePlan] = []
        var approved: [PlanHash.Database] = []
        var summaries: [PlanReport.WavePlan] = []
        for (index, names) in assignment.members.enumerated() {
            var summary = WaveSummary()
            for name in names {
                guard let spec = scheduler.database(named: name) else { continue }
                let records = scheduler.observations[name]?.records ?? []
                let steps = PhasePlanner.steps(graph: graph, records: records, target: id, contractThrough: released)
                let phases = steps.map { step -> PlanReport.PhasePlan in
                    let policy = step.phase == .contract ? spec.settings.contract : spec.settings.expand
                    var earliest: String?
                    if policy == .inWindow, let window = manifest.windows[spec.window] {
                        let expected =
                            scheduler.expectedDurations["\(destination)/\(step.revision)/\(step.phase.rawValue)"] ?? Scheduler.defaultExpectedDuration
                        earliest =
                            WindowSchedule(window).earliestStart(from: now, expected: expected).map(Self.isoTime)
                            ?? "never (no opening of \(spec.window) is long enough)"
                    }
                    return PlanReport.PhasePlan(
                        revision: step.revision, phase: step.phase,
                        sql: listing ? Self.planText(graph[step.revision]?.sections[step.phase], revision: step.revision) : "",
                        earliest_start: earliest)
                }
                if listing { rows.append(PlanReport.DatabasePlan(name: name, wave: waves[index].name, phases: phases)) }
                approved.append(PlanHash.Database(name: name, wave: waves[index].name, steps: steps))
                summary.add(phases)
            }
            summaries.append(summary.plan(name: waves[index].name, databases: names.count))
        }
        let fingerprints = await fingerprintDigests(at: id)
        let refusal = scheduler.promotionRefusal(of: id, to: destination, fingerprints: fingerprints)
        let hash = PlanHash.of(tier: destination, revision: id, databases: approved, graph: graph)
        return PlanReport(
            revision: id, tier: destination, refused: tier == pipeline.first ? nil : refusal, waves: summaries, databases: rows,
            databases_omitted: listing ? nil : members.count, plan_hash: hash)
    }

    /// Each database's window: open now or not, and its next opening and closing.
    public func windows() -> [WindowRow] {
        let now = clock()
        return manifest.databases.map { spec in
            guard let window = manifest.windows[spec.window] else {
                return WindowRow(database: spec.name, window: spec.window, timezone: nil, open: false, next_open: nil, next_close: nil)
            }
            let schedule = WindowSchedule(window)
            let current = schedule.opening(containing: now)
            let next = current == nil ? schedule.nextOpening(after: now) : nil
            var zone: String?
            if case .weekly(_, _, _, let name) = window.schedule { zone = name }
            let close = (current ?? next).map(\.end).flatMap { $0 == .distantFuture ? nil : Self.isoTime($0) }
            return WindowRow(
                database: spec.name, window: spec.window, timezone: zone, open: current != nil,
                next_open: current != nil ? Self.isoTime(now) : next.map { Self.isoTime($0.start) }, next_close: close)
        }
    }

    /// One wave's phases counted as its databases are planned.
    private struct WaveSummary {
        var moving = 0
        var order: [PlannedStep] = []
        var counts: [PlannedStep: (databases: Int, earliest: String?)] = [:]

        mutating func add(_ phases: [PlanReport.PhasePlan]) {
            if !phases.isEmpty { moving += 1 }
            for phase in phases {
                let step = PlannedStep(revision: phase.revision, phase: phase.phase)
                if counts[step] == nil { order.append(step) }
                let earliest = [counts[step]?.earliest, phase.earliest_start].compactMap { $0 }.min()
                counts[step] = ((counts[step]?.databases ?? 0) + 1, earliest)
            }
        }

        func plan(name: String, databases: Int) -> PlanReport.WavePlan {
            PlanReport.WavePlan(
                name: name, databases: databases, moving: moving,
                phases: order.map {
                    PlanReport.WavePhase(revision: $0.revision, phase: $0.phase, databases: counts[$0]!.databases, earliest_start: counts[$0]!.earliest)
                })
        }
    }

    /// What a step will run: its SQL, or for an Alembic revision the command and file.
    static func planText(_ section: Section?, revision: String) -> String {
        guard let section else { return "" }
        if section.engine == .alembic { return "alembic upgrade \(revision)    # \(section.location.file)" }
        return section.body.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
