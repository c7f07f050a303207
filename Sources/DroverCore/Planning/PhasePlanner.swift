/// One phase of one revision to run on a database.
public struct PlannedStep: Sendable, Hashable, Codable, CustomStringConvertible {
    public var revision: String
    public var phase: Phase

    public init(revision: String, phase: Phase) {
        self.revision = revision
        self.phase = phase
    }

    public var description: String { "\(phase.rawValue) \(revision)" }
}

/// The phases a database still needs, in the order they must run (docs/states.md):
/// expands (and backfills) in revision order up to the target; contracts in revision
/// order up to what is released, each only once its own expand is done. A later
/// expand may run ahead of an earlier contract, except in a graph that applies in
/// order (Alembic), where a held-back contract holds back everything after it.
public enum PhasePlanner {
    public static func steps(
        graph: RevisionGraph,
        records: [TrackingRecord],
        target: String,
        contractThrough released: String?
    ) -> [PlannedStep] {
        let done = Set(records.filter(\.status.isDone).map { PhaseKey($0.revision, $0.phase) })
        let lineage = graph.lineage(of: target)
        if graph.appliesInOrder {
            // Alembic's own order, so that drover and `alembic upgrade` agree.
            let pending = lineage.filter { revision in revision.forwardPhases.contains { !done.contains(PhaseKey(revision.id, $0)) } }
            let ordered = AlembicUpgradeOrder.order(graph, pending: Set(pending.map(\.id)), target: target).compactMap { graph[$0] }
            return inOrder(ordered, done: done, released: released.map { Set(graph.lineage(of: $0).map(\.id)) } ?? [])
        }
        var steps: [PlannedStep] = []
        for revision in lineage {
            for phase in [Phase.expand, .backfill] where revision.section(phase) != nil && !done.contains(PhaseKey(revision.id, phase)) {
                steps.append(PlannedStep(revision: revision.id, phase: phase))
            }
        }
        guard let released else { return steps }
        let inTarget = Set(lineage.map(\.id))
        for revision in graph.lineage(of: released) where inTarget.contains(revision.id) {
            if revision.section(.contract) != nil && !done.contains(PhaseKey(revision.id, .contract)) {
                steps.append(PlannedStep(revision: revision.id, phase: .contract))
            }
        }
        return steps
    }

    /// Every pending phase in Alembic's upgrade order; a contract that is not
    /// released blocks itself and its descendants (other branches go on).
    private static func inOrder(_ lineage: [Revision], done: Set<PhaseKey>, released: Set<String>) -> [PlannedStep] {
        var steps: [PlannedStep] = []
        var blocked: Set<String> = []
        for revision in lineage {
            guard !revision.parents.contains(where: blocked.contains) else {
                blocked.insert(revision.id)
                continue
            }
            for phase in revision.forwardPhases where !done.contains(PhaseKey(revision.id, phase)) {
                if phase == .contract && !released.contains(revision.id) {
                    blocked.insert(revision.id)
                    break
                }
                steps.append(PlannedStep(revision: revision.id, phase: phase))
            }
        }
        return steps
    }
}
