import ArgumentParser
import DroverCore
import Foundation

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the manifest and the revision files, and lint expand sections (offline).",
        discussion: """
            DIR is the manifest directory (default: fleet.d); the revisions are found through its fleet.migrations. A directory holding only *.sql files is checked as a revision repository on its own. Errors exit 1; lint findings are warnings (exit 0) unless --strict.
            """
    )

    @Argument(help: ArgumentHelp("Manifest directory, or a directory of revision files.", valueName: "dir"))
    var directory = "fleet.d"

    @Flag(help: "Treat lint warnings as errors (exit 1).")
    var strict = false

    @OptionGroup var global: GlobalOptions

    struct Report: Encodable {
        var valid: Bool
        var errors: [Entry]
        var warnings: [Entry]
        var databases: Int?
        var revisions: Int?
        var head: String?

        struct Entry: Encodable {
            var file: String?
            var line: Int?
            var message: String
        }
    }

    func run() throws {
        var diagnostics: [Diagnostic] = []
        var report = Report(valid: false, errors: [], warnings: [])
        let isRevisionFolder = Self.holdsOnlyRevisions(directory)
        var migrations: String?
        if isRevisionFolder {
            migrations = directory
        } else {
            let (manifest, found) = ManifestLoader().load(directory: directory)
            diagnostics += found
            migrations = manifest?.fleet.migrations
            report.databases = manifest?.databases.count
        }
        if let migrations {
            let (repository, found) = RevisionRepository.load(directory: migrations)
            diagnostics += found
            if let repository {
                diagnostics += repository.lint()
                report.revisions = repository.graph.order.count
                report.head = repository.head
            }
        }
        let errors = diagnostics.errors + (strict ? diagnostics.warnings : [])
        let warnings = strict ? [] : diagnostics.warnings
        report.errors = errors.map(Self.entry)
        report.warnings = warnings.map(Self.entry)
        report.valid = errors.isEmpty

        if global.json {
            Output.json(report)
        } else {
            for diagnostic in (errors + warnings).sorted(by: Self.byLocation) { Output.error(diagnostic.description) }
            var summary: [String] = []
            if let databases = report.databases { summary.append("\(databases) database\(databases == 1 ? "" : "s")") }
            if let revisions = report.revisions { summary.append("\(revisions) revision\(revisions == 1 ? "" : "s")" + (report.head.map { ", head \($0)" } ?? "")) }
            summary.append("\(errors.count) error\(errors.count == 1 ? "" : "s"), \(warnings.count) warning\(warnings.count == 1 ? "" : "s")")
            Output.line("\(directory): \(report.valid ? "valid" : "invalid"): " + summary.joined(separator: "; "))
        }
        if !report.valid { throw ExitCode(ExitStatus.failed) }
    }

    static func holdsOnlyRevisions(_ directory: String) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.contains { $0.hasSuffix(".sql") } && !names.contains { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
    }

    static func entry(_ diagnostic: Diagnostic) -> Report.Entry {
        Report.Entry(file: diagnostic.location?.file, line: diagnostic.location?.line, message: diagnostic.message)
    }

    static func byLocation(_ lhs: Diagnostic, _ rhs: Diagnostic) -> Bool {
        switch (lhs.location, rhs.location) {
        case let (l?, r?): l < r
        case (nil, _?): true
        default: false
        }
    }
}
