import ArgumentParser
import DroverControl
import DroverCore
import DroverDaemon
import DroverProtocol
import Foundation
import Logging
import ServiceLifecycle

/// `droverd`: loads the manifest and the migrations, opens its state file (one
/// daemon per state file), and runs the fleet loop until SIGTERM.
@main
struct Droverd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "droverd",
        abstract: "The drover daemon: moves a fleet of PostgreSQL databases through expand, backfill and contract.",
        discussion: """
            droverd reads the manifest directory (fleet.d/*.yaml) and the revision repository it names, keeps its state in fleet.state, and answers droverctl on the control socket (fleet.socket, or the socket systemd passes through LISTEN_FDS). SIGHUP re-reads the manifest and the migrations; SIGTERM stops starting phases, lets running ones finish within --shutdown-grace, and exits.
            """,
        version: DroverVersion.current
    )

    @Option(help: ArgumentHelp("Manifest directory (fleet.d).", valueName: "dir"))
    var manifest = "fleet.d"

    @Option(name: .customLong("poll-interval"), help: ArgumentHelp("How often each idle database is re-read.", valueName: "duration"))
    var pollInterval = "15s"

    @Option(
        name: .customLong("shutdown-grace"),
        help: ArgumentHelp("How long running phases may finish after SIGTERM before they are cancelled.", valueName: "duration"))
    var shutdownGrace = "30s"

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel = "info"

    @Option(help: ArgumentHelp("Control socket path, overriding fleet.socket (ignored when systemd passes a socket).", valueName: "path"))
    var socket: String?

    @Option(
        name: .customLong("idle-timeout"), help: ArgumentHelp("Close a control connection that has no call in progress for this long.", valueName: "duration"))
    var idleTimeout = "60s"

    @Option(name: .customLong("max-connections"), help: ArgumentHelp("Control connections open at once, in total.", valueName: "n"))
    var maxConnections = 256

    @Option(
        name: .customLong("max-connections-per-user"),
        help: ArgumentHelp("Control connections open at once per uid (root is held only by the total).", valueName: "n"))
    var maxConnectionsPerUser = 32

    @Option(
        name: .customLong("metrics-listen"),
        help: ArgumentHelp(
            "Serve /metrics here (HOST:PORT or a socket path), instead of fleet.metrics.listen: for several droverd of one fleet on one machine.",
            valueName: "address"))
    var metricsListen: String?

    func run() async throws {
        // Before the libpq threads allocate (Heap.swift): one arena a core, not eight.
        Heap.limitArenas(to: max(2, ProcessInfo.processInfo.activeProcessorCount))
        let level = Logger.Level(rawValue: logLevel) ?? .info
        // Under systemd, stderr is the journal: log there with structured fields.
        let journal = JournalLogHandler.stderrIsJournal()
        LoggingSystem.bootstrap { label in
            if journal {
                var handler = JournalLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "droverd")
        let poll: Duration, grace: Duration
        var limits = ControlServer.Limits()
        do {
            poll = try DurationText.parse(pollInterval)
            grace = try DurationText.parse(shutdownGrace)
            limits.idleTimeout = try DurationText.parse(idleTimeout)
        } catch {
            throw ValidationError("\(error)")
        }
        guard maxConnections > 0, maxConnectionsPerUser > 0 else { throw ValidationError("connection caps must be at least 1") }
        limits.maximumConnections = maxConnections
        limits.maximumConnectionsPerUser = maxConnectionsPerUser

        let definition: FleetDefinition
        switch FleetDefinition.load(manifestDirectory: manifest) {
        case .success(let loaded):
            definition = loaded
        case .failure(.manifestInvalid(let diagnostics)):
            // At start-up there is no previous manifest to keep running on.
            let errors = diagnostics.errors.map(\.description).joined(separator: "\n")
            logger.critical("not starting: the manifest or migrations have errors:\n\(errors)")
            throw ExitCode.failure
        case .failure(let error):
            logger.critical("not starting: \(error)")
            throw ExitCode.failure
        }
        let store: StateStore
        do {
            store = try await StateStore.open(StateLocation(definition.statePath()))
        } catch {
            logger.critical("not starting: \(error)")
            throw ExitCode.failure
        }
        // A shared PostgreSQL state store: this instance leads only while it holds the lease.
        let leadership = store.isShared ? Leadership(fleetName: definition.manifest.fleet.name, lease: definition.manifest.fleet.lease) : nil
        let fleet = try await Fleet(
            definition: definition, store: store, leadership: leadership, logger: logger, pollInterval: poll, clock: TestClock.fromEnvironment())
        let control: ControlServer
        do {
            let source = try ControlServer.source(path: socket ?? definition.socketPath())
            control = try await ControlServer(fleet: fleet, source: source, limits: limits, version: DroverVersion.current, logger: logger)
        } catch {
            logger.critical("not starting: \(error)")
            throw ExitCode.failure
        }
        var metrics: MetricsServer?
        var metricsSettings = definition.manifest.fleet.metrics
        if let metricsListen {
            guard let listen = MetricsSettings.listen(parsing: metricsListen) else {
                throw ValidationError("--metrics-listen must be HOST:PORT or an absolute socket path (found '\(metricsListen)')")
            }
            metricsSettings = MetricsSettings(listen: listen, perDatabase: metricsSettings?.perDatabase ?? false)
        }
        if let settings = metricsSettings {
            do {
                metrics = try await MetricsServer(fleet: fleet, listen: settings.listen, logger: logger)
            } catch {
                logger.critical("not starting: cannot listen for metrics on \(settings.listen): \(error)")
                throw ExitCode.failure
            }
        }
        logger.notice(
            "droverd \(ProcessInfo.processInfo.processIdentifier): fleet \(definition.manifest.fleet.name), \(definition.manifest.databases.count) databases, head \(definition.repository.head ?? "none"), state \(store.path)\(leadership.map { ", instance \($0.instance.id), lease \($0.lease)" } ?? "")"
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                // Shut down in reverse: STOPPING=1 first, then the fleet drains while
                // operators can still read status, then the socket closes.
                // The lease outlives the fleet's drain: running phases finish as leader.
                services: [
                    .init(service: control),
                    metrics.map { .init(service: $0) },
                    leadership.map { .init(service: LeadershipService(leadership: $0, fleet: fleet, store: store, logger: logger)) },
                    .init(service: FleetService(fleet: fleet, grace: grace, logger: logger)),
                    .init(service: SystemdService(fleet: fleet, grace: grace, logger: logger)),
                ].compactMap { $0 },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
        try await group.run()
        logger.notice("droverd stopped")
    }
}
