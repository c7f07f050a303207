import DroverCore
import DroverProtocol
import DroverTestSupport
import Foundation
import Logging
import Testing

@testable import DroverDaemon

@Suite("A fleet on a shared state store: what a follower and a leader do (issue #8)")
struct FleetLeadershipTests {
    @Test(
        "a follower starts nothing and shows what the leader recorded; once leading it moves; a lease that ran out unrenewed starts nothing more, even before anything steps down"
    )
    func leaseGatesPhases() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let (store, leadership, _, fleet) = try await sharedStoreFleet(fixture)
        #expect(store.isShared)
        let loop = Task { await fleet.run(grace: .seconds(5)) }

        // A follower: the head is not applied, but a pause the leader recorded shows.
        try await store.setPaused("production", true)
        try await waitFor(fleet, "the follower shows the shared pause") { $0.database("production")?.state == .paused }
        #expect(await fleet.status().database("preview")?.expanded == nil, "a follower starts no phase")
        #expect(await fleet.summary().hasPrefix("follower"))

        let holder = try #require(try await store.takeOrRenewLease(fleet: "test", instance: leadership.instance, lease: leadership.lease))
        #expect(leadership.answered(holder: holder, sentAt: leadership.now) == .lead(holder))
        await fleet.lead(as: holder)
        // What LeadershipService does, by hand: renew while the test wants a leader.
        let renewing = Task {
            while !Task.isCancelled {
                let sentAt = leadership.now
                if let holder = try? await store.takeOrRenewLease(fleet: "test", instance: leadership.instance, lease: leadership.lease) {
                    _ = leadership.answered(holder: holder, sentAt: sentAt)
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        try await waitFor(fleet, "preview follows the head under the new leader") { $0.database("preview")?.expanded == "r2" }
        #expect(await fleet.summary().hasPrefix("leader"))

        // Renewals stop: past the lease less the margin, a new revision must not start,
        // though nothing has told the fleet to step down.
        renewing.cancel()
        await renewing.value
        #expect(try await eventually(timeout: .seconds(10)) { !leadership.mayLead() })
        #expect(await fleet.role == .leader(holder))
        try """
        -- drover:revision r3
        -- drover:parent r2
        -- drover:expand
        CREATE TABLE later (id int);
        """.write(toFile: fixture.directory + "/migrations/0003_later.sql", atomically: true, encoding: .utf8)
        _ = try await fleet.reload()
        try await waitFor(fleet, "preview held because the lease ran out") { $0.database("preview")?.error?.contains("no longer holds the lease") == true }
        #expect(await fleet.status().database("preview")?.expanded == "r2")
        #expect(try await fixture.scalar("SELECT to_regclass('later') IS NULL", in: "preview") == "t", "r3 never ran")
        await fleet.stop()
        await loop.value
    }

    @Test("a leader at rest whose state store refused a write shows the problem until its next lease heartbeat goes through, not until its next phase")
    func heartbeatClearsStateStoreProblem() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let (store, leadership, logger, fleet) = try await sharedStoreFleet(fixture)
        let loop = Task { await fleet.run(grace: .seconds(5)) }
        let service = LeadershipService(leadership: leadership, fleet: fleet, store: store, logger: logger)
        let campaign = Task { try await service.run() }
        try await waitFor(fleet, "the leader brings the fleet to rest") { status in
            status.database("preview")?.expanded == "r2"
                && status.databases.allSatisfy { ![.pending, .expanding, .backfilling, .contracting].contains($0.state) }
        }
        await fleet.fingerprintsSettled()  // nothing else left to write

        // What a write that landed in a state-database outage leaves behind (a
        // fingerprint batch, say); the outage is over, and no phase is due.
        struct Outage: Error, CustomStringConvertible { var description: String { "the state database restarted" } }
        _ = await fleet.stateStoreFailed(Outage())
        #expect(await fleet.status().state_store_error?.contains("the state database restarted") == true)
        try await waitFor(fleet, timeout: .seconds(10), "the next heartbeat clears it") { $0.state_store_error == nil }
        #expect(await fleet.summary().hasPrefix("leader"))

        leadership.requestStop()  // as at shutdown: the lease is given up
        try await campaign.value
        await fleet.stop()
        await loop.value
    }

    /// The fixture's fleet with its state store moved to a PostgreSQL database of the
    /// fixture's cluster (a shared store: leadership by lease), not yet leading.
    private func sharedStoreFleet(_ fixture: DaemonFixture) async throws -> (StateStore, Leadership, Logger, Fleet) {
        let stateDatabase = try await fixture.cluster.createDatabase("state")
        let path = fixture.manifestDirectory + "/10-fleet.yaml"
        try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "  state: ../state/state.db", with: "  state: \"\(fixture.cluster.conninfo(database: stateDatabase))\"")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let definition = try FleetDefinition.load(manifestDirectory: fixture.manifestDirectory).get()
        let store = try await StateStore.open(StateLocation(definition.statePath()))
        let leadership = Leadership(fleetName: "test", lease: .seconds(3))
        var logger = Logger(label: "droverd-test")
        logger.logLevel = .warning
        let fleet = try await Fleet(
            definition: definition, store: store, leadership: leadership, logger: logger,
            pollInterval: .milliseconds(200), tickInterval: .milliseconds(50))
        return (store, leadership, logger, fleet)
    }
}
