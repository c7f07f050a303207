import DroverPostgres
import DroverTestSupport
import Testing

@testable import DroverDaemon

@Suite("Where the fleet's libpq calls run")
struct PhaseExecutorTests {
    @Test("phases, reads and fingerprint batches make their round trips inline on the Postgres threads, none handed over")
    func callsRunInline() async throws {
        let fixture = try await DaemonFixture.make()
        defer { fixture.remove() }
        let (fleet, loop) = try await fixture.start()
        // The observers' connections and the idle ones (the last phases' and the
        // fingerprint batches') are sampled while the fleet moves: they live 2 s.
        let sampler = Task {
            var seen: [ObjectIdentifier: (trips: Int, handOffs: Int)] = [:]
            while !Task.isCancelled {
                let idle = await fleet.connections.idle.values.flatMap { $0.map(\.connection) }
                for connection in await Array(fleet.connections.observers.values) + idle {
                    seen[ObjectIdentifier(connection)] = (connection.roundTrips, connection.poolHandOffs)
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return seen
        }
        try await waitFor(fleet, "preview waiting for its release") { $0.database("preview")?.state == .waitingRelease }
        _ = try await fleet.promote("r2")
        try await waitFor(fleet, "production expanded") { $0.database("production")?.expanded == "r2" }
        try await releaseAndRollOutToTenants(fleet, "r2")
        _ = await fleet.fingerprintDigests(at: "r2")  // the tenants' batch is read
        try await Task.sleep(for: .milliseconds(200))
        sampler.cancel()
        let seen = await sampler.value

        let phases = await fleet.phaseConnectionUse
        #expect(phases.roundTrips > 0)
        #expect(phases.poolHandOffs == 0)
        #expect(seen.count >= 3, "connections sampled: \(seen.count)")
        #expect(seen.values.contains { $0.trips > 0 })
        #expect(seen.values.allSatisfy { $0.handOffs == 0 }, "\(seen.values.filter { $0.handOffs > 0 })")
        await fleet.stop()
        await loop.value
    }
}
