import DroverCore
import DroverDaemon
import DroverProtocol
import DroverTestSupport
import Foundation
import Logging
import Testing

typealias DaemonFixture = FleetFixture

extension FleetFixture {
    func start() async throws -> (Fleet, Task<Void, Never>) {
        let definition = try FleetDefinition.load(manifestDirectory: manifestDirectory).get()
        let store = try StateStore(path: definition.statePath())
        var logger = Logger(label: "droverd-test")
        logger.logLevel = .warning
        let fleet = try await Fleet(definition: definition, store: store, logger: logger, pollInterval: .milliseconds(200), tickInterval: .milliseconds(50))
        let task = Task { await fleet.run(grace: .seconds(5)) }
        return (fleet, task)
    }
}

/// Polls the fleet's status until `condition` holds (at most `timeout`).
func waitFor(_ fleet: Fleet, timeout: Duration = .seconds(30), _ what: String, _ condition: (FleetStatus) -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition(await fleet.status()) { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    let status = await fleet.status()
    Issue.record(
        "timed out waiting for \(what); status: \(status.databases.map { "\($0.name)=\($0.state.rawValue)/\($0.expanded ?? "-")/\($0.contracted ?? "-") \($0.error ?? "")" })"
    )
    throw CancellationError()
}

/// Releases `revision` (preview and production contract), then promotes it to the
/// tenants and waits until every tenant has contracted it.
func releaseAndRollOutToTenants(_ fleet: Fleet, _ revision: String) async throws {
    try await fleet.release(revision)
    try await waitFor(fleet, "contracts in preview and production") {
        $0.database("preview")?.contracted == revision && $0.database("production")?.contracted == revision
    }
    try await fleet.promote(revision, to: "tenants")
    try await waitFor(fleet, "every tenant current") { status in
        status.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.state == .current && $0.contracted == revision }
    }
}
