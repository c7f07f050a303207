import ArgumentParser
import DroverCore
import DroverRunner
import Foundation
import Logging

/// Moves one database directly, without the daemon: for trying revisions on a
/// scratch database and for the demo. The daemon is the real interface; it adds
/// promotion, release gates, windows and waves on top of the same phase runner.
struct MigrateLocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-local",
        abstract: "Run pending phases on one database of the manifest directly (debugging; no daemon, no gates).",
        shouldDisplay: false
    )

    @Option(help: ArgumentHelp("Manifest directory.", valueName: "dir"))
    var manifest = "fleet.d"

    @Option(help: ArgumentHelp("Database name from the manifest.", valueName: "name"))
    var db: String

    @Option(help: ArgumentHelp("Revision to expand to (default: the head).", valueName: "rev"))
    var to: String?

    @Option(name: .customLong("contract-through"), help: ArgumentHelp("Also run contracts up to this revision.", valueName: "rev"))
    var contractThrough: String?

    @Flag(help: "Log every phase.")
    var verbose = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let verbose = self.verbose
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .info : .warning
            return handler
        }
        let (loaded, diagnostics) = ManifestLoader().load(directory: manifest)
        guard let loaded else { OfflineExit.fail(diagnostics.errors.map(\.description)) }
        let (repository, revisionDiagnostics) = RevisionRepository.load(directory: loaded.fleet.migrations)
        guard let repository, let head = repository.head else {
            OfflineExit.fail(revisionDiagnostics.errors.map(\.description) + ["no revision to apply"])
        }
        guard let spec = loaded.database(named: db) else {
            OfflineExit.fail(["unknown database '\(db)'; known: \(loaded.databases.map(\.name).joined(separator: ", "))"])
        }
        let target = OfflineExit.resolve(to ?? head, in: repository)
        let contract = contractThrough.map { OfflineExit.resolve($0, in: repository) }

        let alembic = repository.alembic.map { AlembicRunner(project: $0, command: loaded.fleet.alembic) }
        let runner = PhaseRunner(graph: repository.graph, actor: "droverctl@\(ProcessInfo.processInfo.hostName)", alembic: alembic)
        let session = RunnerSession(target: try DatabaseTarget(spec, fleet: loaded.fleet))
        do {
            let outcomes = try await runner.migrate(session, to: target, contractThrough: contract)
            let observation = try await runner.observe(session)
            await session.close()
            if global.json {
                Output.json(observation.records)
                return
            }
            for outcome in outcomes {
                Output.line(
                    "\(db): \(outcome.phase.rawValue) \(outcome.revision): \(outcome.alreadyApplied ? "already applied" : "applied"), \(outcome.rows) rows, \(outcome.duration.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))"
                )
            }
            if outcomes.isEmpty { Output.line("\(db): nothing to do") }
            Output.line("\(db): expanded \(observation.state.expanded ?? "none"), contracted \(observation.state.contracted ?? "none")")
            TrackingRows.print(observation.records)
        } catch {
            await session.close()
            OfflineExit.fail([error.description])
        }
    }
}

/// The tracking table as an aligned text table.
enum TrackingRows {
    static func print(_ records: [TrackingRecord]) {
        let formatter = ISO8601DateFormatter()
        let rows = records.map { record in
            [
                record.revision, record.phase.rawValue, record.status.rawValue, String(record.rowsAffected),
                record.statementsTotal > 0 ? "\(record.statementsApplied)/\(record.statementsTotal)" : "-",
                record.finishedAt.map { formatter.string(from: $0) } ?? "-", record.appliedBy,
            ]
        }
        var table = Table("REVISION", "PHASE", "STATUS", "ROWS", "STATEMENTS", "FINISHED", "BY")
        for row in rows { table.add(row.map { Table.Cell(text: $0) }) }
        Output.line(table.render())
    }
}
