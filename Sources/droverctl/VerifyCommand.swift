import ArgumentParser
import DroverCore
import DroverPostgres
import DroverRunner
import Foundation
import Logging

/// The CI step teams run with Alembic ("upgrade a test database, test the
/// downgrade"), done by drover's own runner on a scratch database.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Apply the repository to a scratch database and check every revert's round trip (needs no daemon).",
        discussion: """
            Applies every revision from the root (or after --from) to the head (or --to) with the runner droverd uses: expand, backfill, contract, each recorded in the scratch database's tracking table. For every revision with a revert section it runs expand, revert, expand and compares schema fingerprints: the revert must bring back the schema from before the expand, and the second expand the schema of the first. One line per revision and phase; a failure names file:line and the SQLSTATE.

            DIR is a manifest directory (its fleet.migrations, tracking schema and defaults are used) or a folder of revision files. --dsn is a libpq conninfo or URI of a scratch database; a password comes from PGPASSWORD or ~/.pgpass (it is never printed). A database that already holds drover's tracking table is refused unless --reuse. --from REV takes REV and its ancestors as already applied (e.g. a scratch database restored from a dump at REV) and records them as stamped.

            Exit 0: every phase applied and every round trip identical; 1: a failure; 2: bad usage.

            Example (a CI job with a throwaway PostgreSQL service):
              droverctl verify fleet.d --dsn "host=localhost user=postgres dbname=scratch"
            """
    )

    @Argument(help: ArgumentHelp("Manifest directory, or a directory of revision files.", valueName: "dir"))
    var directory = "fleet.d"

    @Option(help: ArgumentHelp("libpq conninfo or URI of the scratch database.", valueName: "conninfo"))
    var dsn: String

    @Option(help: ArgumentHelp("Take this revision and its ancestors as applied; verify what follows.", valueName: "rev"))
    var from: String?

    @Option(help: ArgumentHelp("Stop at this revision (default: the head).", valueName: "rev"))
    var to: String?

    @Flag(help: "Run on a database that already holds drover's tracking table.")
    var reuse = false

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        var migrations = directory
        var trackingSchema = FleetSettings.defaultTrackingSchema
        var settings = DatabaseSettings()
        if !(CheckCommand.holdsOnlyRevisions(directory) || AlembicProject.isProject(directory)) {
            let (manifest, diagnostics) = ManifestLoader().load(directory: directory)
            guard let manifest else { OfflineExit.fail(diagnostics.errors.map(\.description)) }
            migrations = manifest.fleet.migrations
            trackingSchema = manifest.fleet.trackingSchema
            settings = manifest.defaults.settings
        }
        let (loaded, diagnostics) = RevisionRepository.load(directory: migrations)
        guard let repository = loaded else { OfflineExit.fail(diagnostics.errors.map(\.description)) }
        guard repository.alembic == nil else {
            OfflineExit.fail(
                [
                    "\(migrations) is an Alembic project: verify runs drover SQL repositories (for Alembic, 'alembic upgrade head' then 'alembic downgrade base' on a scratch database is the equivalent)"
                ], status: ExitStatus.usage)
        }
        guard let head = repository.head else { OfflineExit.fail(["\(migrations) has no revision to verify"]) }
        let target = OfflineExit.resolve(to ?? head, in: repository, status: ExitStatus.usage)
        let start = from.map { OfflineExit.resolve($0, in: repository, status: ExitStatus.usage) }
        if let start, !repository.graph.isAncestor(start, of: target) || start == target {
            OfflineExit.fail(["--from \(start) is not an ancestor of \(target)"], status: ExitStatus.usage)
        }

        let scratch = DatabaseTarget(
            name: "scratch", connection: ConnectionConfiguration(conninfo: dsn, applicationName: "drover/verify"),
            trackingSchema: trackingSchema, settings: settings)
        let session = RunnerSession(target: scratch)
        let verifier = RepositoryVerifier(
            graph: repository.graph, runner: PhaseRunner(graph: repository.graph, actor: "droverctl verify"), session: session)
        let count = verifier.revisions(from: start, to: target).count
        do {
            let roundTrips = try await verifier.run(from: start, to: target, reuse: reuse) { step in Output.line(step.description) }
            await session.close()
            Output.line(
                "verified \(count) revision\(count == 1 ? "" : "s") up to \(target), \(roundTrips) revert round trip\(roundTrips == 1 ? "" : "s"): all good")
        } catch {
            await session.close()
            OfflineExit.fail([error.description])
        }
    }
}
