import Logging
import ServiceLifecycle
import UnixSignals

/// The fleet loop as a long-running service: graceful shutdown (SIGTERM) stops
/// starting phases and lets running ones finish within `grace`, then cancels them;
/// SIGHUP re-reads manifest and migrations, keeping the old ones on any error.
public struct FleetService: Service {
    let fleet: Fleet
    let grace: Duration
    let logger: Logger

    public init(fleet: Fleet, grace: Duration = .seconds(30), logger: Logger) {
        self.fleet = fleet
        self.grace = grace
        self.logger = logger
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await reloadOnHangup() }
            await withGracefulShutdownHandler {
                await fleet.run(grace: grace)
            } onGracefulShutdown: {
                Task { await fleet.stop() }
            }
            group.cancelAll()
        }
    }

    private func reloadOnHangup() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            logger.notice("SIGHUP: reloading manifest and migrations")
            do {
                let message = try await fleet.reload()
                logger.notice("\(message)")
            } catch {
                // The error is logged by the fleet with every diagnostic; the old
                // definition stays in force.
            }
        }
    }
}
