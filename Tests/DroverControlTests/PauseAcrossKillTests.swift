import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("pause survives SIGKILL (issue #7)")
struct PauseAcrossKillTests {
    @Test("pause, SIGKILL, restart: the tier and the database are still paused; a repeated promote has one effect")
    func pauseSurvivesKill() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let first = try await RunningDaemon.start(fixture)
        #expect(try await first.ctl("pause", "--tier", "tenants").status == 0)
        #expect(try await first.ctl("pause", "--db", "production").status == 0)
        try await first.waitFor("preview at r2") { $0.database("preview")?.expanded == "r2" }
        #expect(try await first.ctl("promote", "r2").status == 0)
        first.process.signal(SIGKILL)
        #expect(await first.process.wait() == 128 + SIGKILL)

        let second = try await RunningDaemon.start(fixture)
        defer { second.kill() }
        let status = try await second.json(FleetStatus.self, "status")
        #expect(status.tier("tenants")?.state == "paused")
        #expect(status.database("production")?.state == .paused)
        #expect(status.tier("production")?.target == "r2")
        #expect(try await second.ctl("promote", "r2").output.contains("nothing changed"))
        try await Task.sleep(for: .milliseconds(600))  // a few rounds: the paused database does not move
        #expect(try await fixture.scalar("SELECT to_regclass('drover.revisions') IS NULL", in: "production") == "t")
    }
}
