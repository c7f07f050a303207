import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Isolated {
    /// Two droverd processes over 40 tenants per case: in the isolated pass.
    @Suite("droverd SIGKILLed in the middle of a lane of schema tenants (docs/daemon.md#tenant-lanes)")
    struct LaneCrashTests {
        @Test(
            "SIGKILL in the middle of a lane of schema tenants, restart: every tenant has each phase applied once, its statements run once",
            arguments: ["phase-after-commit=crash@10", "phase-after-commit=crash@60", "phase-before-commit=crash@50"])
        func crashInLane(failpoint: String) async throws {
            let tenants = (1...40).map { "t\($0)" }
            // The tenants move with preview (no promotion needed), in lanes of up to 32.
            let fixture = try await DaemonFixture.make(tenants: tenants, waves: "")
            defer { fixture.remove() }
            try fixture.editManifest { $0.replacingOccurrences(of: "tier: tenants", with: "tier: preview") }
            let arguments = [
                try Subprocess.builtProduct("droverd"), "--manifest", fixture.manifestDirectory, "--poll-interval", "200ms", "--shutdown-grace", "2s",
            ]

            let first = try BackgroundProcess(arguments, environment: ["DROVER_FAILPOINTS": failpoint])
            #expect(await first.wait(timeout: .seconds(90)) == 128 + SIGKILL, "\(first.output)")
            #expect(first.output.contains("(lane of "), "the tenants ran in lanes")

            let second = try BackgroundProcess(arguments)
            let done = try await eventually(timeout: .seconds(90)) {
                try await fixture.scalar(
                    "SELECT count(*) FROM drover.revisions WHERE revision = 'r2' AND phase = 'backfill' AND status = 'applied'", in: "shared")
                    == "40"
            }
            #expect(done, "\(second.output)")
            let effects = tenants.map { "SELECT '\($0)' AS tenant, note FROM \($0).effects" }.joined(separator: " UNION ALL ")
            let counts = try await fixture.cluster.run(
                "SELECT note, count(*), count(DISTINCT tenant) FROM (\(effects)) e GROUP BY note ORDER BY note", database: fixture.databases["shared"]!
            ).rows
            #expect(counts == [["r1 expand", "40", "40"], ["r2 expand", "40", "40"]], "each tenant's statements ran once: \(counts)")
            let script =
                "import sqlite3,sys\nfor r in sqlite3.connect(sys.argv[1]).execute(\"SELECT revision || '/' || phase, count(*), count(DISTINCT database) FROM history WHERE database LIKE 'tenant-%' AND outcome = 'applied' AND phase = 'expand' GROUP BY 1 ORDER BY 1\"): print('%s %d %d' % r)"
            let history = try await Subprocess.run(["python3", "-c", script, fixture.statePath]).output.split(separator: "\n").map(String.init)
            #expect(history == ["r1/expand 40 40", "r2/expand 40 40"], "history names each tenant's phase once: \(history)\nsecond:\n\(second.output)")
            second.signal(SIGTERM)
            #expect(await second.wait() == 0)
        }
    }
}
