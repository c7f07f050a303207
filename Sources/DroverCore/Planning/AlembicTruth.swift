/// In an Alembic project a database's `alembic_version` is the truth about its
/// revision: a revision counts as applied when it is a head there or an ancestor
/// of one, whatever drover's tracking rows say. A hand-run `alembic upgrade` or
/// `alembic stamp` counts; a hand-run `downgrade` un-counts. Drover's rows stay the
/// history (who, when, how long, Alembic's output).
public enum AlembicTruth {
    /// The revisions `heads` stand for: the heads and all their ancestors.
    public static func applied(_ graph: RevisionGraph, heads: [String]) -> Set<String> {
        var applied: Set<String> = []
        for head in heads where graph[head] != nil && !applied.contains(head) {
            applied.formUnion(graph.lineage(of: head).map(\.id))
        }
        return applied
    }

    /// The records to compute a database's state from: its tracking rows for what
    /// `alembic_version` confirms, a `stamped` stand-in for what only Alembic knows,
    /// its failed and running rows as they are, and a stand-in for a head the
    /// repository does not have (so that status names it as unknown).
    public static func records(graph: RevisionGraph, tracking: [TrackingRecord], heads: [String]?) -> [TrackingRecord] {
        let heads = heads ?? []
        let applied = applied(graph, heads: heads)
        var records = tracking.filter { record in
            guard graph[record.revision] != nil else { return true }
            return record.status.isDone ? applied.contains(record.revision) : true
        }
        let recorded = Set(records.filter(\.status.isDone).map { "\($0.revision)/\($0.phase.rawValue)" })
        for id in graph.order where applied.contains(id) {
            for phase in graph[id]?.forwardPhases ?? [] where !recorded.contains("\(id)/\(phase.rawValue)") {
                records.removeAll { $0.revision == id && $0.phase == phase }
                records.append(TrackingRecord(revision: id, phase: phase, status: .stamped, appliedBy: "alembic", note: "found in alembic_version"))
            }
        }
        for head in heads where graph[head] == nil {
            records.append(
                TrackingRecord(revision: head, phase: .expand, status: .stamped, appliedBy: "alembic", note: "in alembic_version, unknown to the repository"))
        }
        return records
    }
}
