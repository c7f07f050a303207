import ArgumentParser
import DroverCore
import Foundation

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the manifest and the revision files, and lint every section (needs no daemon).",
        discussion: """
            DIR is the manifest directory (default: fleet.d); the revisions are found through its fleet.migrations (a folder of *.sql files, or an Alembic project). A directory holding only *.sql files, or an Alembic project, is checked as a revision repository on its own. Errors exit 1; lint findings are warnings (exit 0) unless --strict.

            Every finding ends with its rule code, e.g. [set-not-null] (docs/lint-rules.md lists them with a bad and a safe example). A statement is exempted with a comment on the line before it: '-- drover:lint-ignore RULE[,RULE...] reason'. Rules that depend on the server version use fleet.lint.postgres_version (default 13), or --postgres-version.

            --format github prints GitHub Actions annotations, e.g. in a workflow step: droverctl check fleet.d --format github --strict

            With a manifest, check also reads every database's Alembic version table (read only, 5 s connect timeout) and warns about an Alembic revision the repository does not have: deploying that repository would leave the database stuck. Databases it cannot reach are listed as notes, not warnings. --offline skips this.
            """
    )

    @Argument(help: ArgumentHelp("Manifest directory, or a directory of revision files.", valueName: "dir"))
    var directory = "fleet.d"

    @Flag(help: "Treat lint warnings as errors (exit 1).")
    var strict = false

    @Flag(help: "Do not connect to the databases (skip the Alembic revision check).")
    var offline = false

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, github
    }

    @Option(help: "Output: text (default), json (same as --json), github (workflow annotations).")
    var format: Format?

    @Option(
        help: ArgumentHelp(
            "The oldest PostgreSQL major version of the fleet, for version-aware rules (default: fleet.lint.postgres_version, else 13).", valueName: "major"))
    var postgresVersion: Int?

    @OptionGroup var global: GlobalOptions

    struct Report: Encodable {
        var valid: Bool
        var errors: [Entry]
        var warnings: [Entry]
        var databases: Int?
        var revisions: Int?
        var head: String?
        /// Databases whose Alembic version table was read, and those that could not be.
        var databases_checked: Int?
        var unreachable: [Unreachable]?

        struct Unreachable: Encodable {
            var database: String
            var reason: String
        }

        struct Entry: Encodable {
            var file: String?
            var line: Int?
            var message: String
            /// The lint rule code, for findings.
            var rule: String?
        }
    }

    func run() async throws {
        var diagnostics: [Diagnostic] = []
        var report = Report(valid: false, errors: [], warnings: [])
        let isRevisionFolder = Self.holdsOnlyRevisions(directory) || AlembicProject.isProject(directory)
        var migrations: String?
        var manifest: Manifest?
        if isRevisionFolder {
            migrations = directory
        } else {
            let (loaded, found) = ManifestLoader().load(directory: directory)
            diagnostics += found
            manifest = loaded
            migrations = loaded?.fleet.migrations
            report.databases = loaded?.databases.count
        }
        if let migrations {
            // Read as far as it goes: a revision with an error is reported and the
            // others are still linted.
            let (repository, found) = RevisionRepository.inspect(directory: migrations)
            diagnostics += found
            let settings = LintSettings(postgresVersion: postgresVersion ?? manifest?.fleet.lint.postgresVersion ?? LintSettings.defaultPostgresVersion)
            diagnostics += repository?.lint(settings) ?? []
            if let repository, found.errors.isEmpty {
                report.revisions = repository.graph.order.count
                report.head = repository.head
                if let manifest, !offline, !manifest.databases.isEmpty {
                    let result = await AlembicRevisionCheck(manifest: manifest, graph: repository.graph).run()
                    diagnostics += result.warnings
                    report.databases_checked = result.checked
                    report.unreachable = result.unreachable.map { Report.Unreachable(database: $0.name, reason: $0.reason) }
                }
            }
        }
        let errors = diagnostics.errors + (strict ? diagnostics.warnings : [])
        let warnings = strict ? [] : diagnostics.warnings
        report.errors = errors.map(Self.entry)
        report.warnings = warnings.map(Self.entry)
        report.valid = errors.isEmpty

        switch format ?? (global.json ? .json : .text) {
        case .json:
            Output.json(report)
        case .github:
            for (diagnostic, level) in errors.map({ ($0, "error") }) + warnings.map({ ($0, "warning") }) {
                Output.line(Self.annotation(diagnostic, level: level))
            }
        case .text:
            for diagnostic in (errors + warnings).sorted(by: Self.byLocation) { Output.error(diagnostic.description) }
            for database in report.unreachable ?? [] {
                Output.error("note: cannot read \(database.database) (\(database.reason)); its Alembic revision was not checked")
            }
            var summary: [String] = []
            if let databases = report.databases { summary.append("\(databases) database\(databases == 1 ? "" : "s")") }
            if let revisions = report.revisions {
                summary.append("\(revisions) revision\(revisions == 1 ? "" : "s")" + (report.head.map { ", head \($0)" } ?? ""))
            }
            if let checked = report.databases_checked { summary.append("\(checked) of \(report.databases ?? 0) databases read") }
            summary.append("\(errors.count) error\(errors.count == 1 ? "" : "s"), \(warnings.count) warning\(warnings.count == 1 ? "" : "s")")
            Output.line("\(directory): \(report.valid ? "valid" : "invalid"): " + summary.joined(separator: "; "))
        }
        if !report.valid { throw ExitCode(ExitStatus.failed) }
    }

    func validate() throws {
        if format != nil && format != .json && global.json { throw ValidationError("--json and --format \(format!.rawValue) contradict each other") }
        if let postgresVersion, !(9...99).contains(postgresVersion) { throw ValidationError("--postgres-version takes a major version such as 13 or 15") }
    }

    /// `::warning file=F,line=L,title=RULE::message` (GitHub Actions workflow
    /// commands; `%`, CR and LF escaped as they require).
    static func annotation(_ diagnostic: Diagnostic, level: String) -> String {
        func escape(_ text: String, property: Bool = false) -> String {
            var escaped = text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(
                of: "\n", with: "%0A")
            if property { escaped = escaped.replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C") }
            return escaped
        }
        var properties: [String] = []
        if let location = diagnostic.location {
            properties.append("file=\(escape(location.file, property: true))")
            properties.append("line=\(location.line)")
        }
        if let rule = diagnostic.rule { properties.append("title=\(escape(rule, property: true))") }
        return "::\(level)" + (properties.isEmpty ? "" : " " + properties.joined(separator: ",")) + "::" + escape(diagnostic.message)
    }

    static func holdsOnlyRevisions(_ directory: String) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.contains { $0.hasSuffix(".sql") } && !names.contains { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
    }

    static func entry(_ diagnostic: Diagnostic) -> Report.Entry {
        Report.Entry(file: diagnostic.location?.file, line: diagnostic.location?.line, message: diagnostic.message, rule: diagnostic.rule)
    }

    static func byLocation(_ lhs: Diagnostic, _ rhs: Diagnostic) -> Bool {
        switch (lhs.location, rhs.location) {
        case let (l?, r?): l < r
        case (nil, _?): true
        default: false
        }
    }
}
