import Foundation

/// Schema tenants of one database whose phases are due together run in a *lane*
/// (docs/daemon.md#tenant-lanes): one connection takes them one after another, so
/// a lane counts once against `max_parallel` and `max_per_server`, and droverd
/// pays its per-phase round (intent, task, end) once per lane instead of once per
/// tenant. Each tenant's phase is still its own transaction with its own tracking
/// row and advisory lock.
///
/// Built during one tick: a start that may share a connection opens a lane or
/// joins an open one of its connection; `actions` turns them into the tick's starts.
struct LaneBuilder {
    /// The most tenants one lane takes. Small enough that a halt, a pause or a
    /// cancel waits for little (a lane stops after its first failure, and each
    /// tenant's own phase is short), large enough that the per-lane round costs
    /// little against the tenants' own statements (docs/benchmarks.md).
    static let size = 32

    private var lanes: [[LaneMember]] = []
    /// Open lanes by connection key: the index into `lanes`.
    private var open: [String: Int] = [:]

    /// Whether a tenant of this connection may still join a lane of this tick
    /// (then it needs no slot of its own).
    func hasRoom(for key: String) -> Bool {
        open[key].map { lanes[$0].count < Self.size } ?? false
    }

    /// Whether any lane of this tick has room left.
    var anyRoom: Bool { open.values.contains { lanes[$0].count < Self.size } }

    /// Adds the member to its connection's open lane, or opens one; returns the
    /// lane's name (its first member's), which the member's runtime keeps.
    mutating func add(_ member: LaneMember, key: String) -> String {
        if let index = open[key], lanes[index].count < Self.size {
            lanes[index].append(member)
            return lanes[index][0].database
        }
        open[key] = lanes.count
        lanes.append([member])
        return member.database
    }

    /// A lane of one is a plain start.
    var actions: [SchedulerAction] {
        lanes.map { $0.count == 1 ? .start(database: $0[0].database, step: $0[0].step) : .startLane($0) }
    }
}

/// One tenant of a lane and the phase it runs there.
public struct LaneMember: Sendable, Hashable {
    public var database: String
    public var step: PlannedStep

    public init(database: String, step: PlannedStep) {
        self.database = database
        self.step = step
    }
}

extension DatabaseSpec {
    /// Databases with the same key are reached through one conninfo and password
    /// file: one connection serves them all (schema tenants of one database).
    public var connectionKey: String { dsn + "\u{1}" + (passwordFile ?? "") }
}

extension Scheduler {
    /// Whether this start may share a connection with other tenants': a schema
    /// tenant's phase of drover's own SQL in one transaction, not bound to a
    /// window (a window's end cancels each database's phase on its own), with no
    /// before-phase hook to run first. A backfill's batches, a no-transaction
    /// section and an Alembic run go alone.
    func mayJoinLane(_ spec: DatabaseSpec, step: PlannedStep, mustEndBy: Date?) -> Bool {
        guard spec.schema != nil, mustEndBy == nil, step.phase != .backfill,
            let section = graph[step.revision]?.section(step.phase), section.engine == .sql, !section.noTransaction
        else { return false }
        return !manifest.hooks.contains { $0.runs(on: .beforePhase, tier: spec.tier, phase: step.phase) }
    }

    /// A lane stopped before this member's phase (a failure before it, a cancel):
    /// it never started, and may be chosen again.
    public mutating func phaseNotStarted(_ name: String) {
        guard runtime[name]?.running != nil else { return }
        updateRuntime(name) { $0 = .idle }
    }

    /// The slot a running database takes: its lane's, or its own.
    func slot(of name: String) -> String {
        runtime[name]?.running?.lane ?? name
    }
}
