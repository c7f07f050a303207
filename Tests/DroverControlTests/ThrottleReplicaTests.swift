import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

/// 300,000 rows backfilled 100 at a time: seconds of WAL for the standby.
private let longBackfill = [
    "0003_long.sql": """
    -- drover:revision r3
    -- drover:parent r2
    -- drover:expand
    CREATE TABLE big (id int PRIMARY KEY, v text);
    INSERT INTO big SELECT g, NULL FROM generate_series(1, 300000) g;
    -- drover:backfill batch=100
    UPDATE big SET v = repeat('x', 50) WHERE id IN (SELECT id FROM big WHERE v IS NULL LIMIT :batch);
    """
]

extension Isolated {
    @Suite("Throttled backfills against a real streaming replica (docs/operations.md)")
    struct ThrottleReplicaTests {
        @Test("replay paused on the standby: the backfill stops at max_replica_lag with the reason in status, and goes on when replay resumes")
        func replicaLag() async throws {
            let cluster = try await TestCluster.dedicated()
            defer { cluster.destroy() }
            let standby = try await cluster.startStandby()
            let fixture = try await FleetFixture.make(tenants: ["acme"], extraRevisions: longBackfill, on: cluster)
            defer { fixture.remove() }
            try fixture.editManifest {
                $0.replacingOccurrences(of: "  lock_timeout: 500ms\n", with: "  lock_timeout: 500ms\n  throttle: {max_replica_lag: 2s}\n")
            }
            let preview = fixture.databases["preview"]!
            func done() async throws -> Int { Int(try await fixture.scalar("SELECT count(*) FROM big WHERE v IS NOT NULL", in: "preview") ?? "0") ?? 0 }
            func lag() async throws -> Double {
                Double(
                    try await cluster.run("SELECT coalesce(max(extract(epoch FROM replay_lag)), 0) FROM pg_stat_replication", database: "postgres").scalar
                        ?? "0") ?? 0
            }

            let daemon = try await RunningDaemon.start(fixture)
            defer { daemon.kill() }
            #expect(try await eventually(timeout: .seconds(120)) { try await done() >= 2000 }, "the backfill under way")
            // Replay stops; WAL keeps arriving while the backfill writes.
            let replica = try await standby.connect(database: preview)
            _ = try await replica.execute("SELECT pg_wal_replay_pause()")
            let paused = ContinuousClock.now
            var throttledRow: FleetStatus.DatabaseRow?
            #expect(
                try await eventually(timeout: .seconds(60)) {
                    throttledRow = try await daemon.json(FleetStatus.self, "status").database("preview")
                    return throttledRow?.throttled != nil
                }, "status says the backfill waits")
            let stoppedAfter = ContinuousClock.now - paused
            let lagWhenStopped = try await lag()
            #expect(throttledRow?.state == .backfilling)
            #expect(throttledRow?.throttled?.hasPrefix("replica lag") == true, "\(String(describing: throttledRow?.throttled))")
            let rowsWhenStopped = try await done()
            try await Task.sleep(for: .seconds(2))
            #expect(try await done() == rowsWhenStopped, "no batch while the standby lags")
            let largest = try await lag()

            _ = try await replica.execute("SELECT pg_wal_replay_resume()")
            await replica.close()
            try await daemon.waitFor("preview backfilled to r3", timeout: .seconds(180)) { $0.database("preview")?.expanded == "r3" }
            #expect(try await done() == 300_000)
            #expect(try await daemon.json(FleetStatus.self, "status").database("preview")?.throttled == nil)
            print(
                "throttle: the backfill stopped \(Int(stoppedAfter.seconds * 1000)) ms after replay paused, replica lag then \(String(format: "%.2f", lagWhenStopped)) s (limit 2 s); \(String(format: "%.2f", largest)) s two seconds later, replay still paused"
            )
            await daemon.stop()
        }
    }
}
