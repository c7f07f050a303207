import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

/// 100,000 rows backfilled 100 at a time, 20 ms apart: half a minute of batches.
/// The table's autovacuum starts on its first dead row and crawls (cost limit 1).
private let slowBackfill = [
    "0003_big.sql": """
    -- drover:revision r3
    -- drover:parent r2
    -- drover:expand
    CREATE TABLE big (id int PRIMARY KEY, v text) WITH (autovacuum_vacuum_threshold = 0, autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_insert_threshold = 1000000000, autovacuum_vacuum_cost_delay = 100, autovacuum_vacuum_cost_limit = 1);
    INSERT INTO big SELECT g, NULL FROM generate_series(1, 100000) g;
    -- drover:backfill batch=100 pause=20ms
    UPDATE big SET v = 'x' WHERE id IN (SELECT id FROM big WHERE v IS NULL LIMIT :batch);
    """
]

extension Isolated {
    @Suite("Throttled backfills: lock waiters and autovacuum on the backfilled table (docs/operations.md)")
    struct ThrottleLocalTests {
        /// A daemon backfilling `big` on preview with `throttle` set to `throttle`.
        private static func backfilling(throttle: String, serverOptions: String = "") async throws -> (TestCluster, FleetFixture, RunningDaemon) {
            let cluster = try await TestCluster.dedicated(serverOptions: serverOptions)
            let fixture = try await FleetFixture.make(tenants: ["acme"], extraRevisions: slowBackfill, on: cluster)
            try fixture.editManifest {
                $0.replacingOccurrences(of: "  lock_timeout: 500ms\n", with: "  lock_timeout: 500ms\n  throttle: \(throttle)\n")
            }
            let daemon = try await RunningDaemon.start(fixture)
            return (cluster, fixture, daemon)
        }

        /// The running total drover commits with each batch: reading `big` itself would
        /// queue behind the test's own ACCESS EXCLUSIVE waiter.
        private static func backfilled(_ fixture: FleetFixture) async throws -> Int {
            Int(
                try await fixture.scalar(
                    "SELECT coalesce(max(rows_affected), 0) FROM drover.revisions WHERE revision = 'r3' AND phase = 'backfill'", in: "preview") ?? "0") ?? 0
        }

        /// Waits until the status row of preview says it is throttled, and checks that
        /// no batch runs for a second after that.
        private static func throttledReason(_ daemon: RunningDaemon, _ fixture: FleetFixture) async throws -> String? {
            var row: FleetStatus.DatabaseRow?
            _ = try await eventually(timeout: .seconds(60)) {
                row = try await daemon.json(FleetStatus.self, "status").database("preview")
                return row?.throttled != nil
            }
            #expect(row?.state == .backfilling)
            let rows = try await backfilled(fixture)
            try await Task.sleep(for: .seconds(1))
            #expect(try await backfilled(fixture) == rows, "no batch while throttled")
            return row?.throttled
        }

        @Test(
            "a session queued for an ACCESS EXCLUSIVE lock on the table: the backfill waits (max_lock_waiters: 0), gives back its slot after max_wait, and goes on once the session is through"
        )
        func lockWaiters() async throws {
            let (cluster, fixture, daemon) = try await Self.backfilling(throttle: "{max_lock_waiters: 0, max_wait: 2s}")
            defer {
                daemon.kill()
                fixture.remove()
                cluster.destroy()
            }
            let watcher = try BackgroundProcess([
                try Subprocess.builtProduct("droverctl"), "watch", "--json", "--kind", "throttled,throttle-lifted", "--socket", daemon.socket,
            ])
            defer { watcher.signal(SIGKILL) }
            #expect(try await eventually { try await Self.backfilled(fixture) >= 500 }, "the backfill under way")
            // A long reader holds ACCESS SHARE; the ALTER-like session queues behind it,
            // and every later writer (the backfill's next UPDATE too) would queue behind that.
            let reader = try await cluster.connect(database: fixture.databases["preview"]!)
            _ = try await reader.execute("BEGIN; SELECT count(*) FROM big WHERE id = 1")
            let waiter = try await cluster.connect(database: fixture.databases["preview"]!)
            let waiting = Task { try await waiter.execute("BEGIN; LOCK TABLE big IN ACCESS EXCLUSIVE MODE; COMMIT") }

            let reason = try await Self.throttledReason(daemon, fixture)
            #expect(reason == "1 session waiting for locks on the table > 0", "\(String(describing: reason))")
            // After max_wait the phase ends and lets go of its advisory lock; the row
            // still says backfilling, and why.
            #expect(
                try await eventually(timeout: .seconds(20)) {
                    let row = try await daemon.json(FleetStatus.self, "status").database("preview")
                    let locks = try await fixture.scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted", in: "preview")
                    return locks == "0" && row?.state == .backfilling && row?.throttled == reason
                }, "the backfill gave back its slot")
            let rows = try await Self.backfilled(fixture)
            try await Task.sleep(for: .seconds(5))
            #expect(try await Self.backfilled(fixture) == rows, "started again, it checks before its first batch")
            #expect(try await daemon.json(FleetStatus.self, "status").database("preview")?.error == nil, "not a failure")

            _ = try await reader.execute("COMMIT")
            _ = try await waiting.value
            await reader.close()
            await waiter.close()
            try await daemon.waitFor("preview backfilled to r3", timeout: .seconds(120)) { $0.database("preview")?.expanded == "r3" }
            #expect(try await Self.backfilled(fixture) == 100_000)
            #expect(try await daemon.json(FleetStatus.self, "status").database("preview")?.throttled == nil)
            let events = watcher.output.split(separator: "\n")
            #expect(events.contains { $0.contains("\"throttled\"") && $0.contains("waiting for locks") }, "\(watcher.output)")
            #expect(events.contains { $0.contains("\"throttle-lifted\"") }, "\(watcher.output)")
            await daemon.stop()
        }

        @Test("an autovacuum working on the table: the backfill waits (autovacuum: wait) and goes on once it ends")
        func autovacuum() async throws {
            let (cluster, fixture, daemon) = try await Self.backfilling(throttle: "{autovacuum: wait}", serverOptions: "-c autovacuum_naptime=1")
            defer {
                daemon.kill()
                fixture.remove()
                cluster.destroy()
            }
            let reason = try await Self.throttledReason(daemon, fixture)
            #expect(reason == "autovacuum on big", "\(String(describing: reason))")
            #expect(
                try await fixture.scalar(
                    "SELECT count(*) FROM pg_stat_progress_vacuum WHERE relid = 'big'::regclass", in: "preview") == "1", "the autovacuum the backfill waits for"
            )

            // Changing the table's autovacuum settings takes a lock the autovacuum yields to.
            _ = try await fixture.scalar("ALTER TABLE big SET (autovacuum_enabled = off)", in: "preview")
            try await daemon.waitFor("preview backfilled to r3", timeout: .seconds(120)) { $0.database("preview")?.expanded == "r3" }
            #expect(try await Self.backfilled(fixture) == 100_000)
            #expect(try await daemon.json(FleetStatus.self, "status").database("preview")?.throttled == nil)
            await daemon.stop()
        }
    }
}
