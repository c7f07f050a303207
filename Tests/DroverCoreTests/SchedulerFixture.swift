import Foundation
import Testing

// The fleet, revisions and clock the scheduler tests share.
@testable import DroverCore

let revisionTexts = [
    "-- drover:revision r1\n-- drover:parent none\n-- drover:expand\nCREATE TABLE t (id int);\n-- drover:backfill\nUPDATE t SET id = 1 WHERE id IN (SELECT id FROM t LIMIT :batch);\n-- drover:contract\nALTER TABLE t ALTER COLUMN id SET NOT NULL;\n",
    "-- drover:revision r2\n-- drover:parent r1\n-- drover:expand\nALTER TABLE t ADD COLUMN c text;\n",
]

func makeGraph() -> RevisionGraph {
    RevisionGraph.build(revisionTexts.enumerated().map { RevisionParser.parse($1, file: "\($0).sql").revision! }).graph
}

func manifest(tenants: Int = 4, extra: String = "", waves: String? = nil) -> Manifest {
    var yaml = """
        fleet: {name: t, migrations: m}
        windows:
          always: {always: true}
          weeknights: {days: [mon, tue, wed, thu, fri], start: "22:30", duration: 90min, timezone: UTC}
        defaults: {window: always, max_parallel: 4, max_per_server: 4}
        databases:
          - {name: preview, tier: preview, dsn: "host=p dbname=preview"}
          - {name: production, tier: production, dsn: "host=prod dbname=app", window: weeknights}
        """
    for index in 0..<tenants {
        yaml += "\n  - {name: t\(index), tier: tenants, dsn: \"host=h\(index % 2) dbname=t\(index)\", labels: {plan: \(index == 0 ? "internal" : "free")}}"
    }
    yaml += extra
    yaml +=
        "\n"
        + (waves ?? """
            waves:
              tenants:
                - {name: canary, select: {names: [t0]}, max_parallel: 1, soak: 30min}
                - {name: rest, select: {all: true}, failure_budget: 1}
            """)
    let (loaded, diagnostics) = ManifestLoader(environment: [:]).load(files: [("/f/a.yaml", yaml)])
    precondition(loaded != nil, "\(diagnostics)")
    return loaded!
}

/// Monday 2026-11-23 12:00 UTC.
let monday = ISO8601DateFormatter().date(from: "2026-11-23T12:00:00Z")!

func applied(_ steps: [(String, Phase)], graph: RevisionGraph) -> [TrackingRecord] {
    steps.map { TrackingRecord(revision: $0.0, phase: $0.1, status: .applied, checksum: graph[$0.0]?.sections[$0.1]?.checksum) }
}

let r1Expanded: [(String, Phase)] = [("r1", .expand), ("r1", .backfill)]
let r1Full: [(String, Phase)] = r1Expanded + [("r1", .contract)]

func scheduler(_ manifest: Manifest = manifest(), observedAll records: [TrackingRecord] = []) -> Scheduler {
    var scheduler = Scheduler(manifest: manifest, graph: makeGraph())
    for database in manifest.databases {
        scheduler.observed(database.name, ObservedDatabase(reachable: true, records: records, observedAt: monday))
    }
    return scheduler
}

func starts(_ actions: [SchedulerAction]) -> [String] {
    actions.compactMap { if case .start(let name, let step) = $0 { "\(name): \(step)" } else { nil } }.sorted()
}

/// Completes running phases, then runs every phase it starts to success, until
/// nothing more starts.
func runToQuiet(_ scheduler: inout Scheduler, at now: Date) -> [SchedulerAction] {
    var all: [SchedulerAction] = []
    for (name, state) in scheduler.runtime {
        if let running = state.running { scheduler.phaseSucceeded(name, step: running.step, at: now, duration: .seconds(1)) }
    }
    for _ in 0..<20 {
        let actions = scheduler.tick(now: now)
        all += actions
        let started = actions.compactMap { if case .start(let name, let step) = $0 { (name, step) } else { nil } }
        if started.isEmpty { break }
        for (name, step) in started { scheduler.phaseSucceeded(name, step: step, at: now, duration: .seconds(1)) }
    }
    return all
}

extension Scheduler {
    /// As the daemon does with a command's decision: each change written (here: at
    /// once) and reported back.
    mutating func take(_ decision: CommandDecision) {
        guard case .accepted(let actions) = decision else { return }
        for case .persist(let change) in actions { persisted(change) }
    }
}
