import ArgumentParser
import CSystemd
import DroverCore
import Foundation
import Logging

/// `droverd`: the daemon. At this stage it loads and validates the manifest and the
/// revision repository, reporting every error; the fleet scheduler, control socket
/// and systemd integration are built on this (see the project's issues).
@main
struct Droverd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "droverd",
        abstract: "The drover daemon: moves a fleet of PostgreSQL databases through expand, backfill and contract."
    )

    @Option(help: ArgumentHelp("Manifest directory (fleet.d).", valueName: "dir"))
    var manifest = "fleet.d"

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "droverd")
        let (loaded, diagnostics) = ManifestLoader().load(directory: manifest)
        var errors = diagnostics.errors
        var revisions = 0
        if let loaded {
            let (repository, found) = RevisionRepository.load(directory: loaded.fleet.migrations)
            errors += found.errors
            revisions = repository?.graph.order.count ?? 0
        }
        guard errors.isEmpty, let loaded else {
            for error in errors { logger.error("\(error)") }
            logger.critical("not starting: \(errors.count) error\(errors.count == 1 ? "" : "s") in \(manifest)")
            throw ExitCode.failure
        }
        let summary = "fleet \(loaded.fleet.name): \(loaded.databases.count) databases, \(revisions) revisions"
        _ = sd_notify(0, "STATUS=\(summary)")
        logger.notice("\(summary); manifest and migrations are valid. The fleet scheduler is not part of this build yet.")
    }
}
