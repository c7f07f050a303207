/// Where a repository's revisions come from.
public enum RevisionFormat: String, Sendable, Hashable {
    /// drover's own `*.sql` files.
    case sql
    /// An Alembic project's `versions/*.py`, applied by `alembic upgrade`.
    case alembic
}

/// Revisions linked through their parents: a DAG with exactly one head.
public struct RevisionGraph: Sendable {
    public private(set) var format: RevisionFormat = .sql
    public private(set) var revisions: [String: Revision] = [:]
    /// Every revision, parents before children. Ties are broken by file name, so the
    /// order is the same on every machine.
    public private(set) var order: [String] = []
    /// The newest revision: the one no other revision names as a parent.
    public private(set) var head: String?
    private var position: [String: Int] = [:]
    /// Where each revision came in the list it was built from (Alembic's load order
    /// of the version files, which its upgrade order falls back on).
    private(set) var loadIndex: [String: Int] = [:]

    public init() {}

    /// Whether a revision needs every ancestor fully applied, contracts included.
    /// Alembic applies a chain in order, so there a later expand cannot run ahead of
    /// an earlier contract as it can with drover's own sections (docs/states.md).
    public var appliesInOrder: Bool { format == .alembic }

    /// Builds the graph and reports duplicate ids, unknown parents, cycles and
    /// several heads.
    public static func build(_ candidates: [Revision], format: RevisionFormat = .sql) -> (graph: RevisionGraph, diagnostics: [Diagnostic]) {
        var graph = RevisionGraph()
        graph.format = format
        var diagnostics: [Diagnostic] = []
        for (index, revision) in candidates.enumerated() where graph.loadIndex[revision.id] == nil { graph.loadIndex[revision.id] = index }
        for revision in candidates.sorted(by: { $0.location < $1.location }) {
            if let first = graph.revisions[revision.id] {
                diagnostics.append(Diagnostic(at: revision.location, "duplicate revision id \(revision.id) (also defined at \(first.location))"))
                continue
            }
            graph.revisions[revision.id] = revision
        }
        for revision in graph.revisions.values.sorted(by: { $0.location < $1.location }) {
            for parent in revision.parents where graph.revisions[parent] == nil {
                let hint = Suggestion.didYouMean(parent, in: graph.revisions.keys)
                diagnostics.append(Diagnostic(at: revision.location, "revision \(revision.id) names unknown parent \(parent)\(hint)"))
            }
        }
        guard diagnostics.isEmpty else { return (graph, diagnostics) }

        // Kahn's algorithm; whatever is left over sits on a cycle.
        var children: [String: [String]] = [:]
        var waiting: [String: Int] = [:]
        for revision in graph.revisions.values {
            waiting[revision.id] = revision.parents.count
            for parent in revision.parents { children[parent, default: []].append(revision.id) }
        }
        let byLocation: (String, String) -> Bool = { graph.revisions[$0]!.location < graph.revisions[$1]!.location }
        var ready = waiting.filter { $0.value == 0 }.map(\.key).sorted(by: byLocation)
        while !ready.isEmpty {
            let id = ready.removeFirst()
            graph.order.append(id)
            var unlocked: [String] = []
            for child in children[id, default: []] {
                waiting[child]! -= 1
                if waiting[child] == 0 { unlocked.append(child) }
            }
            ready = (ready + unlocked).sorted(by: byLocation)
        }
        if graph.order.count < graph.revisions.count {
            let stuck = Set(graph.revisions.keys).subtracting(graph.order).sorted(by: byLocation)
            for id in stuck {
                diagnostics.append(
                    Diagnostic(at: graph.revisions[id]!.location, "revision \(id) is part of a parent cycle (\(stuck.joined(separator: " → ")))"))
            }
            return (graph, diagnostics)
        }
        for (index, id) in graph.order.enumerated() { graph.position[id] = index }

        let heads = graph.order.filter { children[$0, default: []].isEmpty }
        if heads.count > 1 {
            let listing = heads.map { "\($0) (\(graph.revisions[$0]!.location))" }.joined(separator: ", ")
            let remedy =
                format == .alembic
                ? "run 'alembic merge heads' to add a merge revision"
                : "add a merge revision with '-- drover:parent \(heads.joined(separator: " "))'"
            for id in heads {
                diagnostics.append(Diagnostic(at: graph.revisions[id]!.location, "several heads: \(listing); \(remedy)"))
            }
        }
        graph.head = heads.last
        return (graph, diagnostics)
    }

    public subscript(id: String) -> Revision? { revisions[id] }

    public var isEmpty: Bool { revisions.isEmpty }

    /// Index of a revision in `order`.
    public func index(of id: String) -> Int? { position[id] }

    /// `id` and everything it descends from, in `order`.
    public func lineage(of id: String) -> [Revision] {
        guard revisions[id] != nil else { return [] }
        var seen: Set<String> = []
        var stack = [id]
        while let next = stack.popLast() {
            guard seen.insert(next).inserted else { continue }
            stack.append(contentsOf: revisions[next]?.parents ?? [])
        }
        return order.filter(seen.contains).map { revisions[$0]! }
    }

    /// Whether `ancestor` is `id` or one of its ancestors.
    /// Asked for every database in every scheduler tick: a search that stops at the
    /// answer, not a whole lineage.
    public func isAncestor(_ ancestor: String, of id: String) -> Bool {
        guard revisions[id] != nil else { return false }
        if ancestor == id { return true }
        // Parents come before children in `order`.
        if let ancestorPosition = position[ancestor], let position = position[id], ancestorPosition > position { return false }
        var seen: Set<String> = []
        var stack = [id]
        while let next = stack.popLast() {
            if next == ancestor { return true }
            guard seen.insert(next).inserted else { continue }
            stack.append(contentsOf: revisions[next]?.parents ?? [])
        }
        return false
    }

    /// Accepts a full id or an unambiguous prefix (as git and Alembic do).
    public func resolve(_ idOrPrefix: String) -> Result<String, RevisionLookupError> {
        if revisions[idOrPrefix] != nil { return .success(idOrPrefix) }
        let matches = order.filter { $0.hasPrefix(idOrPrefix) }
        switch matches.count {
        case 1: return .success(matches[0])
        case 0: return .failure(.unknown(idOrPrefix, suggestion: Suggestion.nearest(to: idOrPrefix, in: order)))
        default: return .failure(.ambiguous(idOrPrefix, matches: matches))
        }
    }
}

public enum RevisionLookupError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknown(String, suggestion: String?)
    case ambiguous(String, matches: [String])

    public var description: String {
        switch self {
        case .unknown(let id, let suggestion):
            "unknown revision \(id)" + (suggestion.map { " (did you mean \($0)?)" } ?? "")
        case .ambiguous(let id, let matches):
            "revision prefix \(id) is ambiguous: \(matches.joined(separator: ", "))"
        }
    }
}
