import Foundation

/// A folder of revision files (`*.sql`), or an Alembic project, parsed and linked.
public struct RevisionRepository: Sendable {
    public var directory: String
    public var graph: RevisionGraph
    /// Set when the repository is an Alembic project.
    public var alembic: AlembicProject?

    public init(directory: String, graph: RevisionGraph, alembic: AlembicProject? = nil) {
        self.directory = directory
        self.graph = graph
        self.alembic = alembic
    }

    public var head: String? { graph.head }

    /// Reads an Alembic project (`alembic.ini`, its folder or its script location),
    /// or every `*.sql` file of `directory`. Returns the repository when there is no
    /// error, and every diagnostic found (warnings included) either way.
    public static func load(directory: String) -> (repository: RevisionRepository?, diagnostics: [Diagnostic]) {
        let (repository, diagnostics) = inspect(directory: directory)
        return (diagnostics.errors.isEmpty ? repository : nil, diagnostics)
    }

    /// Like `load`, but the repository comes back as far as it could be read even
    /// when there are errors (revisions whose sections have errors included), so
    /// that `check` lints everything in one run.
    public static func inspect(directory: String) -> (repository: RevisionRepository?, diagnostics: [Diagnostic]) {
        if AlembicProject.isProject(directory) { return loadAlembic(directory) }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            return (nil, [Diagnostic(at: nil, "cannot read revision directory \(directory): \(error.localizedDescription)")])
        }
        let files = names.filter { $0.hasSuffix(".sql") }
        var revisions: [Revision] = []
        var diagnostics: [Diagnostic] = []
        for name in names where name.hasSuffix(".py") {
            let path = (directory as NSString).appendingPathComponent(name)
            let text = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
            if case .success = AlembicRevisionFile.parse(text, file: path) {
                diagnostics.append(
                    Diagnostic(
                        at: SourceLocation(file: path, line: 1),
                        "an Alembic revision inside a drover SQL repository: drover SQL and Alembic revisions are never mixed in one repository; point fleet.migrations at the Alembic project's alembic.ini instead"
                    ))
            }
        }
        for name in files {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                diagnostics.append(Diagnostic(at: SourceLocation(file: path, line: 1), "cannot read file"))
                continue
            }
            let (revision, found) = RevisionParser.parseKeepingErrors(String(decoding: data, as: UTF8.self), file: path)
            diagnostics += found
            if let revision { revisions.append(revision) }
        }
        let (graph, graphDiagnostics) = RevisionGraph.build(revisions)
        diagnostics += graphDiagnostics
        return (RevisionRepository(directory: directory, graph: graph), diagnostics)
    }

    private static func loadAlembic(_ path: String) -> (repository: RevisionRepository?, diagnostics: [Diagnostic]) {
        let project: AlembicProject
        do {
            project = try AlembicProject.locate(path)
        } catch {
            return (nil, [error])
        }
        var (revisions, diagnostics) = project.loadRevisions()
        if revisions.isEmpty && diagnostics.isEmpty {
            diagnostics.append(Diagnostic(.warning, at: nil, "the Alembic project \(project.iniFile) has no revisions yet"))
        }
        let (graph, graphDiagnostics) = RevisionGraph.build(revisions, format: .alembic)
        diagnostics += graphDiagnostics
        let repository = diagnostics.errors.isEmpty ? RevisionRepository(directory: project.scriptLocation, graph: graph, alembic: project) : nil
        return (repository, diagnostics)
    }

    /// Lint warnings of every section (`Linter`); the errors among its rules come
    /// from loading already.
    public func lint(_ settings: LintSettings = LintSettings()) -> [Diagnostic] {
        guard alembic == nil else { return [] }  // Python is not linted; only drover's SQL is
        return Linter.lint(graph, settings: settings).filter { $0.severity == .warning }
    }
}
