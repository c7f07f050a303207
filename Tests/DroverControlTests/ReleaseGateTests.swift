import DroverPostgres
import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

@Suite("release_when: the release follows the application's own clients (docs/operations.md)")
struct ReleaseGateTests {
    @Test("clients that still announce the old revision hold the release; once every one announces the target for settle, drover releases it, audited")
    func releaseFollowsClients() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        try fixture.editManifest { $0 + "\nrelease_when:\n  preview: {clients: \"slides/{revision}\", settle: 2s}\n" }
        let preview = fixture.databases["preview"]!
        func client(_ name: String) async throws -> PostgresConnection {
            try await PostgresConnection.connect(ConnectionConfiguration(conninfo: fixture.cluster.conninfo(database: preview), applicationName: name))
        }
        // The application's old code, and another application that does not count.
        let old = try await client("slides/r1")
        let other = try await client("billing/r1")
        let daemon = try await RunningDaemon.start(fixture, arguments: ["--poll-interval", "300ms"])
        defer { daemon.kill() }
        try await daemon.waitFor("preview expanded to r2, its contract waiting") { $0.database("preview")?.state == .waitingRelease }
        try await daemon.waitFor("the gate waiting on the old client") {
            $0.tiers.first { $0.name == "preview" }?.release_waiting_on == "preview: 1 session of r1"
        }
        #expect(try await daemon.ctl("status").output.contains("release_when waits: preview: 1 session of r1"))

        // The new code starts beside the old: still held.
        let new = try await client("slides/r2")
        try await Task.sleep(for: .seconds(3))
        #expect(try await daemon.json(FleetStatus.self, "status").tiers.first { $0.name == "preview" }?.released == nil)

        // The old code is gone: released after two seconds of only new clients.
        // Timed from before the close: the session may end before close() returns here.
        let closed = ContinuousClock.now
        await old.close()
        try await daemon.waitFor("preview released by release_when", timeout: .seconds(30)) { $0.tiers.first { $0.name == "preview" }?.released == "r2" }
        #expect(ContinuousClock.now - closed >= .seconds(2), "not before settle")
        try await daemon.waitFor("preview contracted to r2") { $0.database("preview")?.contracted == "r2" }
        #expect(try await daemon.audit().contains { $0.hasPrefix("release|") && $0.contains("released r2 in preview") })
        #expect(try await daemon.json(FleetStatus.self, "status").tiers.first { $0.name == "preview" }?.release_waiting_on == nil)
        await new.close()
        await other.close()
        await daemon.stop()
    }
}
