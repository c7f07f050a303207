/// The order in which `alembic upgrade TARGET` applies pending revisions, so that a
/// database moved by drover and one moved by Alembic come out identical (the same
/// column order, the same everything). It is Alembic's own walk: from the target
/// down through the pending revisions, switching to another open head whenever the
/// candidate is still an ancestor of it, preferring heads in the order Alembic
/// loaded the version files; the upgrade runs that walk backwards. Ties are broken
/// only by that load order, so the same graph, target and applied set always give
/// the same order.
public enum AlembicUpgradeOrder {
    /// `pending`: revisions in the target's lineage not applied yet.
    public static func order(_ graph: RevisionGraph, pending: Set<String>, target: String) -> [String] {
        var walk = Walk(graph: graph, todo: pending)
        return walk.downward(from: [target]).reversed()
    }

    private struct Walk {
        let graph: RevisionGraph
        var todo: Set<String>
        var ancestorCache: [String: Set<String>] = [:]

        init(graph: RevisionGraph, todo: Set<String>) {
            self.graph = graph
            self.todo = todo
        }

        mutating func downward(from targets: [String]) -> [String] {
            var heads = Array(Set(targets).filter(todo.contains)).sorted(by: loadedEarlier)
            var ancestorsOfHead = heads.map { ancestors($0) }
            var output: [String] = []
            var index = 0
            while !heads.isEmpty {
                let candidate = heads[index]
                // Another open head still needs the candidate: walk that one first.
                if let other = ancestorsOfHead.indices.first(where: { $0 != index && ancestorsOfHead[$0].contains(candidate) }) {
                    index = other
                    continue
                }
                if todo.remove(candidate) != nil { output.append(candidate) }
                let below = downRevisions(candidate).filter { todo.contains($0) && !heads.contains($0) }
                if below.isEmpty {
                    heads.remove(at: index)
                    ancestorsOfHead.remove(at: index)
                    index = max(index - 1, 0)
                } else if isPlainStep(candidate) {
                    heads[index] = below[0]
                    ancestorsOfHead[index].remove(candidate)
                } else {
                    heads[index] = below[0]
                    heads += below.dropFirst()
                    ancestorsOfHead[index] = ancestors(below[0])
                    ancestorsOfHead += below.dropFirst().map { ancestors($0) }
                }
            }
            return output
        }

        /// One `down_revision` and no `depends_on`: a plain step down a line.
        private func isPlainStep(_ id: String) -> Bool {
            guard let revision = graph[id] else { return true }
            return revision.dependencies.isEmpty && revision.parents.count == 1
        }

        /// `down_revision` first, then the dependencies that no other of them
        /// already brings in (Alembic's normalised down revisions).
        private mutating func downRevisions(_ id: String) -> [String] {
            guard let revision = graph[id] else { return [] }
            let versioned = revision.parents.filter { !revision.dependencies.contains($0) }
            var result = versioned
            for dependency in revision.dependencies where !result.contains(dependency) {
                let others = versioned + revision.dependencies.filter { $0 != dependency }
                if !others.contains(where: { ancestors($0).contains(dependency) }) { result.append(dependency) }
            }
            return result
        }

        /// `id` and everything it descends from.
        private mutating func ancestors(_ id: String) -> Set<String> {
            if let cached = ancestorCache[id] { return cached }
            let result = Set(graph.lineage(of: id).map(\.id))
            ancestorCache[id] = result
            return result
        }

        private func loadedEarlier(_ a: String, _ b: String) -> Bool {
            (graph.loadIndex[a] ?? Int.max, a) < (graph.loadIndex[b] ?? Int.max, b)
        }
    }
}
