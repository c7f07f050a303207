import DroverCore
import DroverPostgres
import DroverRunner
import DroverTestSupport
import Foundation
import Testing

private let table = """
    -- drover:revision 111100000001
    -- drover:parent none
    -- drover:expand
    CREATE TABLE items (id int PRIMARY KEY, v int, filled boolean);
    INSERT INTO items SELECT g, g % 10, NULL FROM generate_series(1, 1000) g;
    """

@Suite("Resumable phases, revert, stamp, tamper, tenants, locks")
struct ResumableAndTrackingTests {
    @Test("a backfill interrupted after some batches resumes with the correct total")
    func backfillResumes() async throws {
        let fixture = try await Fixture.make("bf")
        let revisions = try graph(
            table,
            """
            -- drover:revision 111100000002
            -- drover:parent 111100000001
            -- drover:backfill batch=100 pause=50ms
            UPDATE items SET filled = true WHERE id IN (SELECT id FROM items WHERE filled IS NULL LIMIT :batch);
            """)
        _ = try await runner(revisions).run(step("111100000001", .expand), on: fixture.session())
        let first = Task { try await runner(revisions).run(step("111100000002", .backfill), on: fixture.session()) }
        let progressed = try await eventually {
            (Int(try await fixture.scalar("SELECT coalesce((SELECT rows_affected FROM drover.revisions WHERE phase = 'backfill'), 0)") ?? "0") ?? 0) >= 300
        }
        #expect(progressed)
        first.cancel()
        _ = await first.result
        let partial = try await fixture.sql("SELECT status, rows_affected FROM drover.revisions WHERE phase = 'backfill'").rows
        #expect(partial.first?[0] == "running")
        let done = Int(partial.first?[1] ?? "0") ?? 0
        #expect(done >= 300 && done < 1000)
        #expect(try await fixture.scalar("SELECT count(*) FROM items WHERE filled") == String(done))

        let outcome = try await runner(revisions).run(step("111100000002", .backfill), on: fixture.session())
        #expect(outcome.rows == 1000)
        #expect(try await fixture.sql("SELECT status, rows_affected FROM drover.revisions WHERE phase = 'backfill'").rows == [["applied", "1000"]])
        #expect(try await fixture.scalar("SELECT count(*) FROM items WHERE filled IS NULL") == "0")
    }

    @Test("a failing CREATE UNIQUE INDEX CONCURRENTLY leaves no INVALID index; after the data is fixed the retry builds it")
    func concurrentIndexFailureAndRetry() async throws {
        let fixture = try await Fixture.make("cic")
        let revisions = try graph(
            table,
            """
            -- drover:revision 111100000003
            -- drover:parent 111100000001
            -- drover:expand
            -- drover:no-transaction
            CREATE TABLE audit (note text);
            CREATE UNIQUE INDEX CONCURRENTLY items_v_key ON items (v);
            INSERT INTO audit VALUES ('after index');
            """)
        _ = try await runner(revisions).run(step("111100000001", .expand), on: fixture.session())
        let result = await Result(catching: { () async throws(RunnerError) in
            try await runner(revisions).run(step("111100000003", .expand), on: fixture.session())
        })
        guard case .failure(.statementFailed(_, _, _, let statement, let error)) = result else {
            Issue.record("expected a statement failure, got \(result)")
            return
        }
        #expect(error.sqlState == "23505")
        #expect(statement?.location.line == 6)
        #expect(try await fixture.scalar("SELECT count(*) FROM pg_index WHERE indexrelid::regclass::text = 'items_v_key'") == "0")
        let row = try await fixture.sql("SELECT status, statements_applied, statements_total, error FROM drover.revisions WHERE revision = '111100000003'").rows
            .first
        #expect(row?[0] == "failed" && row?[1] == "1" && row?[2] == "3")
        #expect(row?[3]?.contains("r1.sql:6") == true)

        try await fixture.sql("UPDATE items SET v = id")
        let outcome = try await runner(revisions).run(step("111100000003", .expand), on: fixture.session())
        #expect(!outcome.alreadyApplied)
        #expect(try await fixture.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_v_key'::regclass") == "t")
        // The statement before the failure ran once: it was not repeated on resume.
        #expect(try await fixture.scalar("SELECT count(*) FROM pg_class WHERE relname = 'audit'") == "1")
        #expect(try await fixture.scalar("SELECT count(*) FROM audit") == "1")
        #expect(try await fixture.sql("SELECT status, statements_applied FROM drover.revisions WHERE revision = '111100000003'").rows == [["applied", "3"]])
    }

    @Test("a no-transaction section resumes at the statement that did not finish, dropping an INVALID index first")
    func noTransactionResumeAfterCrash() async throws {
        let fixture = try await Fixture.make("ntx")
        let revisions = try graph(
            table,
            """
            -- drover:revision 111100000004
            -- drover:parent 111100000001
            -- drover:expand
            -- drover:no-transaction
            INSERT INTO items VALUES (5000, 1, NULL);
            CREATE INDEX CONCURRENTLY items_filled_idx ON items (filled);
            """)
        _ = try await runner(revisions).run(step("111100000001", .expand), on: fixture.session())
        // What a crash in the middle of the CIC leaves: the row says running at
        // statement 1 of 2, and an INVALID index exists.
        try await fixture.sql(
            """
            INSERT INTO drover.revisions (revision, phase, status, checksum, statements_applied, statements_total, applied_by)
            SELECT '111100000004', 'expand', 'running', '\(revisions["111100000004"]!.sections[.expand]!.checksum)', 1, 2, 'crashed';
            CREATE INDEX items_filled_idx ON items (filled);
            UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'items_filled_idx'::regclass;
            """)
        _ = try await runner(revisions).run(step("111100000004", .expand), on: fixture.session())
        #expect(try await fixture.scalar("SELECT count(*) FROM items WHERE id = 5000") == "0")  // statement 1 not repeated
        #expect(try await fixture.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_filled_idx'::regclass") == "t")
        #expect(try await fixture.sql("SELECT status, statements_applied FROM drover.revisions WHERE revision = '111100000004'").rows == [["applied", "2"]])
    }

    @Test("revert undoes expand before contract, and is refused after it")
    func revert() async throws {
        let fixture = try await Fixture.make("rev")
        let revertableTable = table + "\n-- drover:revert\nDROP TABLE items;\n"
        let revisions = try graph(
            revertableTable,
            """
            -- drover:revision 111100000005
            -- drover:parent 111100000001
            -- drover:expand
            ALTER TABLE items ADD COLUMN extra text;
            -- drover:contract
            ALTER TABLE items DROP COLUMN v;
            -- drover:revert
            ALTER TABLE items DROP COLUMN extra;
            """)
        let session = fixture.session()
        _ = try await runner(revisions).migrate(session, to: "111100000005", contractThrough: nil)
        // The parent cannot be reverted while a child builds on it.
        let blocked = await Result(catching: { () async throws(RunnerError) in try await runner(revisions).run(step("111100000001", .revert), on: session) })
        #expect(blocked.failureDescription?.contains("build") == true)

        _ = try await runner(revisions).run(step("111100000005", .revert), on: session)
        #expect(try await fixture.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'extra'") == "0")
        #expect(
            try await fixture.sql("SELECT phase, status FROM drover.revisions WHERE revision = '111100000005' ORDER BY phase").rows == [
                ["expand", "reverted"], ["revert", "applied"],
            ])
        let state = try await runner(revisions).observe(session).state
        #expect(state.expanded == "111100000001")

        _ = try await runner(revisions).migrate(session, to: "111100000005", contractThrough: "111100000005")
        let refused = await Result(catching: { () async throws(RunnerError) in try await runner(revisions).run(step("111100000005", .revert), on: session) })
        #expect(refused.failureDescription?.contains("contract of 111100000005 already ran") == true)
        await session.close()
    }

    @Test("contract is refused before its expand")
    func contractOrder() async throws {
        let fixture = try await Fixture.make("ord")
        let revisions = try graph(
            table,
            """
            -- drover:revision 111100000006
            -- drover:parent 111100000001
            -- drover:expand
            ALTER TABLE items ADD COLUMN a text;
            -- drover:contract
            ALTER TABLE items DROP COLUMN v;
            """)
        let session = fixture.session()
        _ = try await runner(revisions).run(step("111100000001", .expand), on: session)
        let early = await Result(catching: { () async throws(RunnerError) in try await runner(revisions).run(step("111100000006", .contract), on: session) })
        #expect(early.failureDescription?.contains("needs its expand") == true)
        await session.close()
    }

    @Test("stamp records phases without running them; a changed file marks the database tampered until stamped again")
    func stampAndTamper() async throws {
        let fixture = try await Fixture.make("stamp")
        let original = try graph(table)
        let session = fixture.session()
        let stamped = try await runner(original).stamp("111100000001", phase: nil, note: "created by hand", on: session)
        #expect(stamped == [step("111100000001", .expand)])
        #expect(try await !fixture.tableExists("items"))
        #expect(try await fixture.sql("SELECT status, note FROM drover.revisions").rows == [["stamped", "created by hand"]])
        #expect(try await runner(original).observe(session).state.expanded == "111100000001")

        // The file changes after it was applied.
        let edited = try graph(
            table.replacingOccurrences(of: "generate_series(1, 1000)", with: "generate_series(1, 2000)"),
            """
            -- drover:revision 111100000007
            -- drover:parent 111100000001
            -- drover:expand
            CREATE TABLE later (id int);
            """)
        let observation = try await runner(edited).observe(session)
        #expect(observation.state.tampered.map(\.revision) == ["111100000001"])
        let refused = await Result(catching: { () async throws(RunnerError) in try await runner(edited).run(step("111100000007", .expand), on: session) })
        guard case .failure(.tampered) = refused else {
            Issue.record("expected tampered, got \(refused)")
            return
        }
        #expect(try await !fixture.tableExists("later"))

        _ = try await runner(edited).stamp("111100000001", phase: .expand, note: "reviewed the edit", on: session)
        _ = try await runner(edited).run(step("111100000007", .expand), on: session)
        #expect(try await fixture.tableExists("later"))
        await session.close()
    }

    @Test("schema tenants: phases run in the tenant's schema, tracked in the database's shared tracking table")
    func schemaTenants() async throws {
        let fixture = try await Fixture.make("ten")
        try await fixture.sql("CREATE SCHEMA acme; CREATE SCHEMA globex;")
        let revisions = try graph(table)
        let acme = fixture.session(schema: "acme")
        let globex = fixture.session(schema: "globex")
        #expect(acme.target.advisoryLockKey != globex.target.advisoryLockKey)
        async let first = runner(revisions).run(step("111100000001", .expand), on: acme)
        async let second = runner(revisions).run(step("111100000001", .expand), on: globex)
        _ = try await (first, second)
        #expect(try await fixture.tableExists("acme.items"))
        #expect(try await fixture.tableExists("globex.items"))
        #expect(try await !fixture.tableExists("public.items"))
        #expect(try await fixture.records(tenant: "acme").count == 1)
        #expect(try await fixture.records(tenant: "globex").count == 1)
        #expect(try await fixture.records().count == 2)
        #expect(try await !fixture.tableExists("drover_acme.revisions"))
        await acme.close()
        await globex.close()
    }

    @Test("another session holding drover's advisory lock makes the phase report locked, naming its pid")
    func advisoryLockHeld() async throws {
        let fixture = try await Fixture.make("lock")
        let revisions = try graph(table)
        let session = fixture.session()
        let key = session.target.advisoryLockKey
        let other = try await fixture.cluster.connect(database: fixture.database)
        try await other.query("SELECT pg_advisory_lock($1::int, $2::int)", [String(key.classID), String(key.objectID)])
        let result = await Result(catching: { () async throws(RunnerError) in try await runner(revisions).run(step("111100000001", .expand), on: session) })
        guard case .failure(.locked(_, let holder)) = result else {
            Issue.record("expected locked, got \(result)")
            return
        }
        #expect(holder == other.backendPID)
        #expect(try await runner(revisions).observe(session).lockHolderPID == other.backendPID)
        await other.close()
        // The server drops the lock when the closed session's backend has exited.
        #expect(try await eventually { try await runner(revisions).observe(session).lockHolderPID == nil })
        _ = try await runner(revisions).run(step("111100000001", .expand), on: session)
        #expect(try await fixture.tableExists("items"))
        await session.close()
    }

    @Test("an alembic_version table is read, several heads included")
    func alembicVersion() async throws {
        let fixture = try await Fixture.make("alembic")
        let session = fixture.session()
        #expect(try await runner(try graph(table)).observe(session).alembicVersions == nil)
        try await fixture.sql(
            "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('ae1027a6acf'), ('27c6a30d7c24');")
        #expect(try await runner(try graph(table)).observe(session).alembicVersions == ["27c6a30d7c24", "ae1027a6acf"])
        await session.close()
    }

    @Test("a password from a password file reaches the server and never the error text")
    func passwordFile() async throws {
        let fixture = try await Fixture.make("pwf")
        let secret = "pw-\(UUID().uuidString)"
        try await fixture.sql(
            "CREATE ROLE runner_pw LOGIN PASSWORD '\(secret)'; GRANT ALL ON DATABASE \(fixture.database) TO runner_pw; GRANT ALL ON SCHEMA public TO runner_pw;"
        )
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)").path
        try (secret + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var spec = DatabaseSpec(
            name: "pw", tier: "preview", dsn: fixture.cluster.tcpConninfo(database: fixture.database, user: "runner_pw"), passwordFile: file, window: "always",
            settings: Fixture.fastSettings)
        let fleet = FleetSettings(name: "t", migrations: "/", pipeline: ["preview"], trackingSchema: "drover", operatorsGroup: "drover")
        _ = try await runner(try graph(table)).run(step("111100000001", .expand), on: RunnerSession(target: try DatabaseTarget(spec, fleet: fleet)))
        #expect(try await fixture.scalar("SELECT tableowner FROM pg_tables WHERE tablename = 'items'") == "runner_pw")

        spec.dsn = fixture.cluster.tcpConninfo(database: "missing_\(UUID().uuidString.prefix(6))", user: "runner_pw")
        let result = await Result(catching: { () async throws(RunnerError) in
            try await runner(try! graph(table)).observe(RunnerSession(target: try DatabaseTarget(spec, fleet: fleet)))
        })
        #expect(result.failureDescription != nil)
        #expect(result.failureDescription?.contains(secret) == false)
    }
}

extension Result where Failure == RunnerError {
    var failureDescription: String? {
        if case .failure(let error) = self { return error.description }
        return nil
    }
}
