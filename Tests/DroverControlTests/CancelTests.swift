import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

/// A contract that sleeps until a flag is set: long enough to cancel, quick once set.
private let sleepyContract = [
    "0003_sleepy.sql": """
    -- drover:revision r3
    -- drover:parent r2
    -- drover:expand
    CREATE TABLE flags (name text PRIMARY KEY);
    -- drover:contract
    INSERT INTO effects VALUES ('r3 contract');
    SELECT pg_sleep(CASE WHEN EXISTS (SELECT 1 FROM flags WHERE name = 'quick') THEN 0 ELSE 60 END);
    """
]

/// 200 batches 50 ms apart.
private let slowBackfill = [
    "0003_slow.sql": """
    -- drover:revision r3
    -- drover:parent r2
    -- drover:expand
    ALTER TABLE docs ADD COLUMN slow text;
    -- drover:backfill batch=1 pause=50ms
    UPDATE docs SET slow = 'x' WHERE id IN (SELECT id FROM docs WHERE slow IS NULL LIMIT :batch);
    """
]

/// A statement, then an index build that waits for a snapshot the test holds open.
private let indexAfterInsert = [
    "0003_index.sql": """
    -- drover:revision r3
    -- drover:parent r2
    -- drover:expand
    -- drover:no-transaction
    INSERT INTO effects VALUES ('r3 first');
    CREATE INDEX CONCURRENTLY docs_status_idx ON docs (status);
    """
]

extension Isolated {
    @Suite("droverctl cancel (docs/operations.md)")
    struct CancelTests {
        @Test(
            "a contract held by pg_sleep: cancelled within a second, rolled back, paused with who and why, in history and the audit log; resume runs it again")
        func contract() async throws {
            let fixture = try await FleetFixture.make(tenants: ["acme"], extraRevisions: sleepyContract)
            defer { fixture.remove() }
            let daemon = try await RunningDaemon.start(fixture)
            defer { daemon.kill() }
            try await daemon.waitFor("preview expanded to r3") { $0.database("preview")?.expanded == "r3" }
            #expect(try await daemon.ctl("release", "r3", "--tier", "preview").status == 0)
            #expect(
                try await eventually {
                    try await fixture.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'", in: "preview") == "1"
                }, "the contract of r3 running")

            let cancel = try await daemon.ctl("cancel", "preview", "--reason", "checkout is slow")
            #expect(cancel.status == 0, "\(cancel.errors)")
            let milliseconds = Int(cancel.output.split(separator: " ").first { $0.allSatisfy(\.isNumber) } ?? "") ?? -1
            print("cancel stopped the running contract in \(milliseconds) ms")
            #expect((0..<1000).contains(milliseconds), "\(cancel.output)")
            try await daemon.waitFor("preview paused") { $0.database("preview")?.state == .paused }
            let row = try #require(try await daemon.json(FleetStatus.self, "status").database("preview"))
            #expect(row.error?.contains("cancelled by") == true && row.error?.contains("checkout is slow") == true, "\(String(describing: row.error))")
            #expect(try await fixture.scalar("SELECT count(*) FROM effects WHERE note = 'r3 contract'", in: "preview") == "0", "rolled back")
            #expect(
                try await fixture.scalar(
                    "SELECT count(*) FROM drover.revisions WHERE revision = 'r3' AND phase = 'contract' AND status = 'applied'", in: "preview")
                    == "0")
            let history = try await daemon.json(HistoryReply.self, "history", "preview")
            #expect(history.entries.contains { $0.revision == "r3" && $0.phase == .contract && $0.outcome == "cancelled" })
            #expect(try await daemon.audit().contains { $0.hasPrefix("cancel|") && $0.contains("checkout is slow") })

            try await Task.sleep(for: .seconds(1))
            #expect(try await daemon.json(FleetStatus.self, "status").database("preview")?.state == .paused, "nothing starts it again")
            _ = try await fixture.scalar("INSERT INTO flags VALUES ('quick')", in: "preview")
            #expect(try await daemon.ctl("resume", "--db", "preview").status == 0)
            try await daemon.waitFor("preview contracted to r3") { $0.database("preview")?.contracted == "r3" }
            #expect(try await fixture.scalar("SELECT count(*) FROM effects WHERE note = 'r3 contract'", in: "preview") == "1")
            #expect(try await daemon.ctl("cancel", "preview").status == 1, "nothing runs on it any more")
            await daemon.stop()
        }

        @Test("a backfill cancelled part-way keeps its committed batches and resumes from them; --tier pauses the tier")
        func backfill() async throws {
            let fixture = try await FleetFixture.make(tenants: ["acme"], extraRevisions: slowBackfill)
            defer { fixture.remove() }
            let daemon = try await RunningDaemon.start(fixture)
            defer { daemon.kill() }
            let midway = try await eventually {
                (Int(try await fixture.scalar("SELECT count(*) FROM docs WHERE slow IS NOT NULL", in: "preview") ?? "0") ?? 0) >= 10
            }
            #expect(midway)
            #expect(try await daemon.ctl("cancel", "--tier", "preview", "--reason", "replica lag").status == 0)
            try await daemon.waitFor("preview paused") { $0.database("preview")?.state == .paused }
            let status = try await daemon.json(FleetStatus.self, "status")
            #expect(status.tiers.first { $0.name == "preview" }?.state == "paused")
            let done = Int(try await fixture.scalar("SELECT count(*) FROM docs WHERE slow IS NOT NULL", in: "preview") ?? "0") ?? 0
            #expect(done >= 10 && done < 200, "committed batches stay: \(done)")
            try await Task.sleep(for: .milliseconds(500))
            #expect(Int(try await fixture.scalar("SELECT count(*) FROM docs WHERE slow IS NOT NULL", in: "preview") ?? "0") == done, "nothing ran meanwhile")

            #expect(try await daemon.ctl("resume", "--tier", "preview").status == 0)
            try await daemon.waitFor("preview backfilled r3", timeout: .seconds(60)) { $0.database("preview")?.expanded == "r3" }
            #expect(try await fixture.scalar("SELECT count(*) FROM docs WHERE slow IS NULL", in: "preview") == "0")
            await daemon.stop()
        }

        @Test("a no-transaction section cancelled in its index build resumes at that statement: the statement before it does not run again")
        func concurrentIndex() async throws {
            let fixture = try await FleetFixture.make(tenants: ["acme"], extraRevisions: indexAfterInsert)
            defer { fixture.remove() }
            // The build's wait for the snapshot is a lock wait: the fixture's 500 ms
            // lock_timeout would fail the phase before the test cancels it.
            try fixture.editManifest { $0.replacingOccurrences(of: "lock_timeout: 500ms", with: "lock_timeout: 10min") }
            // A snapshot held open: CREATE INDEX CONCURRENTLY waits for it before it can finish.
            let holder = try await fixture.cluster.connect(database: fixture.databases["preview"]!)
            _ = try await holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
            let daemon = try await RunningDaemon.start(fixture)
            defer { daemon.kill() }
            #expect(
                try await eventually {
                    try await fixture.scalar(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'", in: "preview")
                        == "1"
                }, "the index build waiting")
            #expect(
                try await fixture.scalar("SELECT statements_applied FROM drover.revisions WHERE revision = 'r3' AND phase = 'expand'", in: "preview") == "1")
            #expect(try await daemon.ctl("cancel", "preview").status == 0)
            try await daemon.waitFor("preview paused") { $0.database("preview")?.state == .paused }
            _ = try await holder.execute("COMMIT")
            await holder.close()
            #expect(try await fixture.scalar("SELECT status FROM drover.revisions WHERE revision = 'r3' AND phase = 'expand'", in: "preview") != "applied")

            #expect(try await daemon.ctl("resume", "--db", "preview").status == 0)
            try await daemon.waitFor("preview expanded to r3") { $0.database("preview")?.expanded == "r3" }
            #expect(try await fixture.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'docs_status_idx'::regclass", in: "preview") == "t")
            #expect(try await fixture.scalar("SELECT count(*) FROM effects WHERE note = 'r3 first'", in: "preview") == "1", "resumed at the index build")
            await daemon.stop()
        }
    }
}
