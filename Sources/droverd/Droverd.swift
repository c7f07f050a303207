import ArgumentParser
import CSystemd
import DroverCore
import DroverDaemon
import Foundation
import Logging
import ServiceLifecycle

/// `droverd`: loads the manifest and the migrations, opens its state file (one
/// daemon per state file), and runs the fleet loop until SIGTERM.
@main
struct Droverd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "droverd",
        abstract: "The drover daemon: moves a fleet of PostgreSQL databases through expand, backfill and contract."
    )

    @Option(help: ArgumentHelp("Manifest directory (fleet.d).", valueName: "dir"))
    var manifest = "fleet.d"

    @Option(name: .customLong("poll-interval"), help: ArgumentHelp("How often each idle database is re-read.", valueName: "duration"))
    var pollInterval = "15s"

    @Option(name: .customLong("shutdown-grace"), help: ArgumentHelp("How long running phases may finish after SIGTERM before they are cancelled.", valueName: "duration"))
    var shutdownGrace = "30s"

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "droverd")
        let poll: Duration, grace: Duration
        do {
            poll = try DurationText.parse(pollInterval)
            grace = try DurationText.parse(shutdownGrace)
        } catch {
            throw ValidationError("\(error)")
        }

        let definition: FleetDefinition
        switch FleetDefinition.load(manifestDirectory: manifest) {
        case .success(let loaded):
            definition = loaded
        case .failure(let error):
            logger.critical("not starting: \(error)")
            throw ExitCode.failure
        }
        let store: StateStore
        do {
            store = try StateStore(path: definition.statePath())
        } catch {
            logger.critical("not starting: \(error)")
            throw ExitCode.failure
        }
        let fleet = try await Fleet(definition: definition, store: store, logger: logger, pollInterval: poll)
        logger.notice("droverd \(ProcessInfo.processInfo.processIdentifier): fleet \(definition.manifest.fleet.name), \(definition.manifest.databases.count) databases, head \(definition.repository.head ?? "none"), state \(store.path)")
        _ = sd_notify(0, "STATUS=\(await fleet.summary())")
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: FleetService(fleet: fleet, grace: grace, logger: logger))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
        logger.notice("droverd stopped")
    }
}
