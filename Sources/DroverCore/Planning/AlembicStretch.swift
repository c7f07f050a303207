/// Consecutive pending revisions of an Alembic project that one `alembic upgrade`
/// run can apply together: same phase (so the same gates), and exactly the set
/// `alembic upgrade LAST` applies from where the database is. One process for a
/// stretch instead of one per revision: a fresh database gets a long project in
/// about the time of `alembic upgrade head`.
public enum AlembicStretch {
    /// For `steps` in their planned order (`PhasePlanner`): the revision to upgrade
    /// to so that the first step and as many of the following as possible run in one
    /// go, and how many steps that covers; `nil` when only the first step would.
    public static func through(_ steps: [PlannedStep], graph: RevisionGraph) -> (revision: String, steps: Int)? {
        guard graph.appliesInOrder, let first = steps.first else { return nil }
        let pending = Set(steps.map(\.revision))
        var covered: Set<String> = []
        var best: (String, Int)?
        for (index, step) in steps.enumerated() {
            guard step.phase == first.phase else { break }
            covered.insert(step.revision)
            // What `alembic upgrade step.revision` would apply: its pending lineage.
            let applies = Set(graph.lineage(of: step.revision).map(\.id)).intersection(pending)
            if index > 0 && applies == covered { best = (step.revision, index + 1) }
        }
        return best
    }
}
