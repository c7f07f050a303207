import Logging
import ServiceLifecycle

/// The daemon's side of the systemd protocol (sd_notify): READY=1 once the fleet
/// has started (manifest, migrations and state loaded, in-flight intents
/// reconciled; the control socket was bound before any service ran), STATUS= kept
/// current, RELOADING=1/READY=1 around reloads, WATCHDOG=1 while the fleet loop
/// goes round, STOPPING=1 at shutdown. Outside systemd every message is dropped.
public struct SystemdService: Service {
    let fleet: Fleet
    let grace: Duration
    let logger: Logger
    /// How often STATUS= is refreshed when the watchdog does not ask for more.
    let statusInterval: Duration

    public init(fleet: Fleet, grace: Duration, logger: Logger, statusInterval: Duration = .seconds(5)) {
        self.fleet = fleet
        self.grace = grace
        self.logger = logger
        self.statusInterval = statusInterval
    }

    public func run() async throws {
        // Not under systemd: nothing to tell, and no summaries to compute.
        guard Notify.isEnabled else { return try await gracefulShutdown() }
        await fleet.waitUntilStarted()
        Notify.ready(status: await fleet.summary())
        let watchdog = Notify.watchdogInterval()
        if let watchdog { logger.info("systemd watchdog: pinging every \(watchdog / 2)") }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await followReloads() }
                group.addTask { await keepStatus() }
                if let watchdog { group.addTask { await pingWatchdog(interval: watchdog) } }
                try? await gracefulShutdown()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            // Running phases may take the grace period to finish; systemd waits that long.
            Notify.stopping(extendBy: grace + .seconds(15))
        }
    }

    /// RELOADING=1 when a reload starts (SIGHUP or `droverctl reload`), READY=1
    /// when it ends, whether the new manifest was taken or refused.
    private func followReloads() async {
        for await event in await fleet.events() {
            switch event.kind {
            case "reloading": Notify.reloading()
            case "reload", "reload-failed": Notify.ready(status: await fleet.summary())
            default: break
            }
        }
    }

    private func keepStatus() async {
        var last = ""
        while !Task.isCancelled {
            let summary = await fleet.summary()
            if summary != last {
                Notify.status(summary)
                last = summary
            }
            try? await Task.sleep(for: statusInterval)
        }
    }

    /// Pings at half the interval, but only while the fleet loop beats: a stalled
    /// scheduler lets systemd's watchdog fire.
    private func pingWatchdog(interval: Duration) async {
        var warned = false
        while !Task.isCancelled {
            if let age = fleet.heartbeat.age(), age < interval {
                Notify.watchdog()
                warned = false
            } else if !warned {
                logger.critical("the fleet loop has not gone round for \(interval); no more watchdog pings, systemd will restart droverd")
                warned = true
            }
            try? await Task.sleep(for: interval / 2)
        }
    }
}
