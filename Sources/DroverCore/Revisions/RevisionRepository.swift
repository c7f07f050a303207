import Foundation

/// A folder of revision files (`*.sql`), parsed and linked.
public struct RevisionRepository: Sendable {
    public var directory: String
    public var graph: RevisionGraph

    public init(directory: String, graph: RevisionGraph) {
        self.directory = directory
        self.graph = graph
    }

    public var head: String? { graph.head }

    /// Reads every `*.sql` file of `directory`. Returns the repository when there is
    /// no error, and every diagnostic found (warnings included) either way.
    public static func load(directory: String) -> (repository: RevisionRepository?, diagnostics: [Diagnostic]) {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }.sorted()
        } catch {
            return (nil, [Diagnostic(at: nil, "cannot read revision directory \(directory): \(error.localizedDescription)")])
        }
        var revisions: [Revision] = []
        var diagnostics: [Diagnostic] = []
        for name in files {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                diagnostics.append(Diagnostic(at: SourceLocation(file: path, line: 1), "cannot read file"))
                continue
            }
            let (revision, found) = RevisionParser.parse(String(decoding: data, as: UTF8.self), file: path)
            diagnostics += found
            if let revision { revisions.append(revision) }
        }
        let (graph, graphDiagnostics) = RevisionGraph.build(revisions)
        diagnostics += graphDiagnostics
        let repository = diagnostics.errors.isEmpty ? RevisionRepository(directory: directory, graph: graph) : nil
        return (repository, diagnostics)
    }

    /// Lint warnings for every expand section (SPEC §3).
    public func lint() -> [Diagnostic] {
        graph.order.compactMap { graph[$0]?.sections[.expand] }.flatMap { section in
            section.statements.flatMap(SQLRules.lintExpand).map { finding in
                Diagnostic(.warning, at: SourceLocation(file: section.location.file, line: finding.line), finding.message)
            }
        }
    }
}
