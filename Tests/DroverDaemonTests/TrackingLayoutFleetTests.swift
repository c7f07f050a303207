import DroverCore
import DroverDaemon
import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

@Suite("Schema tenants of drover 0.4's layout in the running daemon (docs/tracking.md)")
struct TrackingLayoutFleetTests {
    @Test("tenants tracked in their own tracking schemas are read as they are, and move to the shared table with their next phase")
    func tenantsMoveOver() async throws {
        let fixture = try await DaemonFixture.make(
            tenants: ["acme", "globex", "initech"], waves: "waves:\n  tenants:\n    - {name: all, select: {all: true}}\n")
        defer { fixture.remove() }
        var (fleet, loop) = try await fixture.start()
        try await fleet.deploy("r1", tier: "tenants")
        try await waitFor(fleet, "tenants at r1") { $0.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.expanded == "r1" } }
        await fleet.stop()
        await loop.value

        // acme and globex as drover 0.4 left them; initech stays in the shared table.
        let shared = fixture.databases["shared"]!
        for tenant in ["acme", "globex"] {
            _ = try await fixture.cluster.run(
                """
                CREATE SCHEMA drover_\(tenant);
                CREATE TABLE drover_\(tenant).revisions (LIKE drover.revisions INCLUDING DEFAULTS);
                ALTER TABLE drover_\(tenant).revisions DROP COLUMN schema, ADD PRIMARY KEY (revision, phase);
                INSERT INTO drover_\(tenant).revisions
                  SELECT revision, phase, status, checksum, started_at, finished_at, rows_affected, statements_applied, statements_total, applied_by, error, note
                    FROM drover.revisions WHERE schema = '\(tenant)';
                DELETE FROM drover.revisions WHERE schema = '\(tenant)';
                """, database: shared)
        }

        (fleet, loop) = try await fixture.start()
        try await waitFor(fleet, "every tenant read at r1 and current") {
            $0.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.expanded == "r1" && $0.state == .current }
        }
        try await fleet.deploy("r2", tier: "tenants")
        try await waitFor(fleet, "tenants at r2") { $0.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.expanded == "r2" } }
        let moved = try await fixture.cluster.run(
            "SELECT schema, count(*) FROM drover.revisions WHERE revision = 'r1' GROUP BY schema ORDER BY schema", database: shared
        ).rows
        #expect(moved == [["acme", "1"], ["globex", "1"], ["initech", "1"]], "\(moved)")
        let left = try await fixture.cluster.run("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'drover\\_%'", database: shared).scalar
        #expect(left == "0")
        #expect(await fleet.drift().isEmpty)
        let history = try await fleet.history("tenant-acme")
        #expect(history.contains { $0.revision == "r2" && $0.outcome == "applied" })
        await fleet.stop()
        await loop.value
    }
}
