import DroverCore
import DroverPostgres
import DroverTestSupport
import Foundation
import Testing

@testable import DroverRunner

private let items = """
    -- drover:revision 222200000001
    -- drover:parent none
    -- drover:expand
    CREATE TABLE items (id int PRIMARY KEY, v int, filled boolean);
    INSERT INTO items SELECT g, g % 10, NULL FROM generate_series(1, 1000) g;

    -- drover:backfill batch=100
    UPDATE items SET filled = true WHERE id IN (SELECT id FROM items WHERE filled IS NULL LIMIT :batch);
    """

private let indexes = """
    -- drover:revision 222200000002
    -- drover:parent 222200000001
    -- drover:expand
    -- drover:no-transaction
    CREATE INDEX CONCURRENTLY IF NOT EXISTS items_v ON items (v);
    CREATE INDEX CONCURRENTLY IF NOT EXISTS items_filled ON items (filled);
    """

/// drover 0.4's table of a schema tenant, in `<tracking_schema>_<schema>`.
private func oldTrackingTable(_ schema: String) -> String {
    """
    CREATE SCHEMA \(schema);
    CREATE TABLE \(schema).revisions (
        revision text NOT NULL, phase text NOT NULL, status text NOT NULL, checksum text,
        started_at timestamptz NOT NULL DEFAULT clock_timestamp(), finished_at timestamptz,
        rows_affected bigint NOT NULL DEFAULT 0, statements_applied integer NOT NULL DEFAULT 0,
        statements_total integer NOT NULL DEFAULT 0, applied_by text NOT NULL, error text, note text,
        PRIMARY KEY (revision, phase));
    """
}

/// Moves a tenant's rows from the shared table back into its own, as drover 0.4 left them.
private func downgrade(_ fixture: Fixture, tenant: String) async throws {
    try await fixture.sql(
        oldTrackingTable("drover_\(tenant)")
            + """
            INSERT INTO drover_\(tenant).revisions
              SELECT revision, phase, status, checksum, started_at, finished_at, rows_affected, statements_applied, statements_total, applied_by, error, note
                FROM drover.revisions WHERE schema = '\(tenant)';
            DELETE FROM drover.revisions WHERE schema = '\(tenant)';
            """)
}

@Suite("Tracking layouts: schema tenants share one table, and move to it from their own (docs/tracking.md)")
struct TrackingLayoutTests {
    @Test("where rows are and where they go, for every combination of tables")
    func destinations() {
        let whole = DatabaseTarget(name: "w", connection: ConnectionConfiguration(conninfo: ""), trackingSchema: "drover")
        let acme = DatabaseTarget(name: "a", connection: ConnectionConfiguration(conninfo: ""), schema: "acme", trackingSchema: "drover")
        let shared = TrackingTable(schema: "drover", tenant: "acme"), own = TrackingTable(schema: "drover_acme")
        func layout(_ shared: Bool, _ tenants: Bool, _ own: Bool) -> TrackingLayout {
            TrackingLayout(sharedExists: shared, sharedHasTenants: tenants, ownExists: own)
        }
        // Nothing yet: tenants go to the shared table, a whole database to its own.
        #expect(layout(false, false, false).existing(for: acme) == nil)
        #expect(layout(false, false, false).destination(for: acme) == shared)
        #expect(layout(false, false, false).destination(for: whole) == TrackingTable(schema: "drover"))
        // drover 0.4's tenant table: read there, moved to the shared table.
        #expect(layout(false, false, true).existing(for: acme) == own)
        #expect(layout(false, false, true).movesRows(of: acme))
        #expect(layout(true, true, true).movesRows(of: acme))
        // A database tracked as a whole: its tenants keep tables of their own.
        #expect(layout(true, false, false).destination(for: acme) == own)
        #expect(!layout(true, false, true).movesRows(of: acme))
        #expect(layout(true, false, false).existing(for: whole) == TrackingTable(schema: "drover"))
        // Tenants first: the whole database's rows are those of schema ''.
        #expect(layout(true, true, false).existing(for: whole) == TrackingTable(schema: "drover", tenant: ""))
        #expect(layout(true, true, false).destination(for: whole) == TrackingTable(schema: "drover", tenant: ""))
        #expect(!layout(true, true, true).movesRows(of: whole), "a whole database's own table is the shared one")
    }

    @Test("a tenant of drover 0.4 (applied, running and failed rows) is read in its own table; its next phase moves the rows unchanged and resumes")
    func movesOver() async throws {
        let fixture = try await Fixture.make("layout")
        try await fixture.sql("CREATE SCHEMA acme; CREATE SCHEMA globex;")
        let revisions = try graph(items, indexes)
        let acme = fixture.session(schema: "acme"), globex = fixture.session(schema: "globex")
        defer {
            Task {
                await acme.close()
                await globex.close()
            }
        }
        for session in [acme, globex] {
            _ = try await runner(revisions).run(step("222200000001", .expand), on: session)
            _ = try await runner(revisions).run(step("222200000001", .backfill), on: session)
        }
        // acme as 0.4 left it: a backfill interrupted after 400 rows, and an index
        // section that failed after its first statement.
        try await downgrade(fixture, tenant: "acme")
        try await fixture.sql(
            """
            UPDATE drover_acme.revisions SET status = 'running', rows_affected = 400, finished_at = NULL WHERE phase = 'backfill';
            UPDATE acme.items SET filled = NULL WHERE id > 400;
            CREATE INDEX items_v ON acme.items (v);
            INSERT INTO drover_acme.revisions (revision, phase, status, checksum, statements_applied, statements_total, applied_by, error)
              VALUES ('222200000002', 'expand', 'failed', '\(revisions["222200000002"]!.section(.expand)!.checksum)', 1, 2, 'droverd 0.4', 'canceling statement');
            """)
        let expandStarted = try await fixture.scalar("SELECT started_at FROM drover_acme.revisions WHERE phase = 'expand' AND revision = '222200000001'")

        // Both layouts are read, one tenant by one and all at once.
        let connection = try await PostgresConnection.connect(fixture.cluster.configuration(database: fixture.database))
        defer { Task { await connection.close() } }
        let observed = try await runner(revisions).observe([acme.target, globex.target], on: connection)
        let alone = try await runner(revisions).observe(acme)
        for observation in [observed[acme.target.name], alone] {
            let rows = observation?.trackingRecords.map { "\($0.revision)/\($0.phase.rawValue) \($0.status.rawValue) \($0.rowsAffected)" }
            #expect(rows == ["222200000001/expand applied 1000", "222200000001/backfill running 400", "222200000002/expand failed 0"], "\(rows ?? [])")
        }
        #expect(observed[globex.target.name]?.trackingRecords.count == 2)

        // The next phase moves acme's rows and resumes the backfill at row 401.
        acme.trackingTableSeen = true
        _ = try await runner(revisions).run(step("222200000001", .backfill), on: acme)
        #expect(try await fixture.scalar("SELECT count(*) FROM acme.items WHERE filled") == "1000")
        #expect(try await !fixture.tableExists("drover_acme.revisions"))
        #expect(try await fixture.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'drover_acme'") == "0")
        #expect(try await fixture.records(tenant: "acme").map { $0.compactMap { $0 } }.contains(["222200000001", "backfill", "applied", "1000"]))
        #expect(
            try await fixture.scalar("SELECT started_at FROM drover.revisions WHERE schema = 'acme' AND phase = 'expand' AND revision = '222200000001'")
                == expandStarted)
        #expect(
            try await fixture.sql("SELECT status, statements_applied, error FROM drover.revisions WHERE schema = 'acme' AND revision = '222200000002'").rows
                == [["failed", "1", "canceling statement"]])
        // The failed section resumes at its second statement.
        _ = try await runner(revisions).run(step("222200000002", .expand), on: acme)
        #expect(
            try await fixture.sql("SELECT status, statements_applied FROM drover.revisions WHERE schema = 'acme' AND revision = '222200000002'").rows
                == [["applied", "2"]])
        #expect(try await fixture.tableExists("acme.items_filled"))
        #expect(try await fixture.records(tenant: "globex").count == 2, "globex's rows are untouched")
    }

    @Test("the move is one transaction: when it cannot finish, the tenant's rows stay where they were, and the phase did nothing")
    func moveIsAtomic() async throws {
        let fixture = try await Fixture.make("layout")
        try await fixture.sql("CREATE SCHEMA acme;")
        let revisions = try graph(items)
        let acme = fixture.session(schema: "acme")
        defer { Task { await acme.close() } }
        _ = try await runner(revisions).run(step("222200000001", .expand), on: acme)
        try await downgrade(fixture, tenant: "acme")
        try await fixture.sql("DROP TABLE drover.revisions; DROP SCHEMA drover;")

        // A reader of the old table keeps DROP TABLE from getting its lock.
        let reader = try await PostgresConnection.connect(fixture.cluster.configuration(database: fixture.database))
        defer { Task { await reader.close() } }
        _ = try await reader.execute("BEGIN; SELECT count(*) FROM drover_acme.revisions;")
        await #expect(throws: RunnerError.self) {
            _ = try await runner(revisions).run(step("222200000001", .backfill), on: acme)
        }
        #expect(try await fixture.records(schema: "drover_acme").count == 1)
        #expect(try await !fixture.tableExists("drover.revisions"), "the shared table's creation was rolled back with the move")
        #expect(try await fixture.scalar("SELECT count(*) FROM acme.items WHERE filled") == "0")

        _ = try await reader.execute("COMMIT")
        // As droverd runs it, having read acme's rows in its own table: the shared table is not there yet.
        acme.trackingTableSeen = true
        _ = try await runner(revisions).run(step("222200000001", .backfill), on: acme)
        #expect(try await !fixture.tableExists("drover_acme.revisions"))
        #expect(try await fixture.records(tenant: "acme").count == 2)
        #expect(try await fixture.scalar("SELECT count(*) FROM acme.items WHERE filled") == "1000")
    }

    @Test("stamp moves the rows too; a database tracked as a whole keeps its tenants in their own tables")
    func stampAndWholeDatabase() async throws {
        let fixture = try await Fixture.make("layout")
        try await fixture.sql("CREATE SCHEMA acme; CREATE SCHEMA globex;")
        let revisions = try graph(items, indexes)
        let acme = fixture.session(schema: "acme")
        defer { Task { await acme.close() } }
        _ = try await runner(revisions).run(step("222200000001", .expand), on: acme)
        try await downgrade(fixture, tenant: "acme")
        _ = try await runner(revisions).stamp("222200000001", phase: .backfill, note: "filled by hand", on: acme)
        #expect(try await !fixture.tableExists("drover_acme.revisions"))
        #expect(try await fixture.records(tenant: "acme").map { $0[2] } == ["applied", "stamped"])

        // Another database, tracked as a whole first: its tenants are tracked on their own.
        let other = try await Fixture.make("layout")
        try await other.sql("CREATE SCHEMA globex;")
        let whole = other.session(), tenant = other.session(schema: "globex")
        defer {
            Task {
                await whole.close()
                await tenant.close()
            }
        }
        _ = try await runner(revisions).run(step("222200000001", .expand), on: whole)
        _ = try await runner(revisions).run(step("222200000001", .expand), on: tenant)
        #expect(try await other.records().count == 1)
        #expect(try await other.records(schema: "drover_globex").count == 1)
        #expect(try await runner(revisions).observe(whole).trackingRecords.count == 1)

        // ... and the first one, whose tenants came first, tracks the whole database as schema ''.
        let wholeFirst = fixture.session()
        defer { Task { await wholeFirst.close() } }
        _ = try await runner(revisions).stamp("222200000001", phase: .expand, note: "the database as a whole", on: wholeFirst)
        #expect(try await fixture.records(tenant: "").count == 1)
        #expect(try await runner(revisions).observe(wholeFirst).trackingRecords.count == 1)
        #expect(try await runner(revisions).observe(acme).trackingRecords.count == 2)
    }

    @Test("a revert on a tenant of drover 0.4 moves its rows first and marks its expand reverted in the shared table")
    func revertMovesOver() async throws {
        let fixture = try await Fixture.make("layout")
        try await fixture.sql("CREATE SCHEMA acme;")
        let revisions = try graph(
            indexes.replacingOccurrences(of: "222200000002", with: "222200000003") + "\n-- drover:revert\nDROP INDEX items_v, items_filled;\n", items)
        let acme = fixture.session(schema: "acme")
        defer { Task { await acme.close() } }
        _ = try await runner(revisions).run(step("222200000001", .expand), on: acme)
        _ = try await runner(revisions).run(step("222200000001", .backfill), on: acme)
        _ = try await runner(revisions).run(step("222200000003", .expand), on: acme)
        try await downgrade(fixture, tenant: "acme")
        acme.trackingTableSeen = true
        _ = try await runner(revisions).run(step("222200000003", .revert), on: acme)
        #expect(try await !fixture.tableExists("drover_acme.revisions"))
        #expect(try await !fixture.tableExists("acme.items_v"))
        #expect(
            try await fixture.sql("SELECT phase, status FROM drover.revisions WHERE schema = 'acme' AND revision = '222200000003' ORDER BY phase").rows
                == [["expand", "reverted"], ["revert", "applied"]])
    }
}
