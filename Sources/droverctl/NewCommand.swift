import ArgumentParser
import DroverCore
import Foundation

struct NewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Write a new revision file whose parent is the current head (offline).",
        discussion: "The revision folder is the manifest's fleet.migrations, or --migrations."
    )

    @Argument(help: ArgumentHelp("What the revision does, e.g. \"add new_field to documents\".", valueName: "message"))
    var message: String

    @Option(help: ArgumentHelp("Manifest directory whose fleet.migrations names the revision folder.", valueName: "dir"))
    var manifest = "fleet.d"

    @Option(help: ArgumentHelp("Revision folder (instead of reading the manifest).", valueName: "dir"))
    var migrations: String?

    @Flag(help: "When the repository has several heads, write a merge revision with all of them as parents.")
    var merge = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("the message must not be empty")
        }
    }

    func run() throws {
        let folder = try revisionFolder()
        if AlembicProject.isProject(folder) {
            Output.error(
                "\(folder) is an Alembic project: write revisions with 'alembic revision -m \"\(message)\"' (add drover_phase = \"contract\" to a contract revision)"
            )
            throw ExitCode(ExitStatus.usage)
        }
        let (repository, diagnostics) = RevisionRepository.load(directory: folder)
        var parents: [String]
        if let repository {
            parents = repository.head.map { [$0] } ?? []
        } else {
            // Several heads are the one error `new --merge` exists to fix.
            let headErrors = diagnostics.errors.filter { $0.message.hasPrefix("several heads") }
            guard merge, headErrors.count == diagnostics.errors.count, !headErrors.isEmpty else {
                for diagnostic in diagnostics.errors { Output.error(diagnostic.description) }
                Output.error(
                    "fix the revision folder first"
                        + (diagnostics.errors.contains { $0.message.hasPrefix("several heads") } ? ", or run 'droverctl new --merge MESSAGE'" : ""))
                throw ExitCode(ExitStatus.failed)
            }
            parents = Self.heads(in: folder)
        }
        var generator = SystemRandomNumberGenerator()
        let id = RevisionTemplate.newID(using: &generator)
        let path = (folder as NSString).appendingPathComponent(RevisionTemplate.fileName(message: message, id: id, date: Date()))
        guard !FileManager.default.fileExists(atPath: path) else {
            Output.error("\(path) already exists")
            throw ExitCode(ExitStatus.failed)
        }
        do {
            try RevisionTemplate.render(id: id, parents: parents, message: message).write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            Output.error("cannot write \(path): \(error.localizedDescription)")
            throw ExitCode(ExitStatus.failed)
        }
        if global.json {
            Output.json(["file": path, "revision": id, "parent": parents.isEmpty ? "none" : parents.joined(separator: " ")])
        } else {
            Output.line("\(path): revision \(id), parent \(parents.isEmpty ? "none" : parents.joined(separator: " "))")
        }
    }

    private func revisionFolder() throws -> String {
        if let migrations { return migrations }
        let (loaded, diagnostics) = ManifestLoader().load(directory: manifest)
        guard let loaded else {
            for diagnostic in diagnostics.errors { Output.error(diagnostic.description) }
            Output.error("cannot find the revision folder: fix the manifest, or pass --migrations DIR")
            throw ExitCode(ExitStatus.failed)
        }
        return loaded.fleet.migrations
    }

    /// Heads of a folder whose graph is otherwise valid.
    private static func heads(in folder: String) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".sql") }
        let revisions = names.compactMap { name -> Revision? in
            let path = (folder as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            return RevisionParser.parse(String(decoding: data, as: UTF8.self), file: path).revision
        }
        let parents = Set(revisions.flatMap(\.parents))
        return revisions.filter { !parents.contains($0.id) }.sorted { $0.location < $1.location }.map(\.id)
    }
}
