import DroverCore
import DroverPostgres
import DroverTestSupport
import Foundation
import Testing

@testable import DroverRunner

private let accounts = """
    -- drover:revision 333300000001
    -- drover:parent none
    -- drover:expand
    CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);
    """

private let invoices = """
    -- drover:revision 333300000002
    -- drover:parent 333300000001
    -- drover:expand
    CREATE TABLE invoices (id bigint PRIMARY KEY, account bigint NOT NULL);
    """

/// Notes the session's work_mem as the phase found it, then changes it for the session.
private let setsWorkMem = """
    -- drover:revision 333300000003
    -- drover:parent 333300000002
    -- drover:expand
    CREATE TABLE seen AS SELECT current_setting('work_mem') AS work_mem;
    SET work_mem = '1234kB';
    """

@Suite("Lanes: tenants' phases one after another on one connection (docs/daemon.md#tenant-lanes)")
struct LaneRunnerTests {
    private func tenants(_ fixture: Fixture, _ count: Int) async throws -> [String] {
        let names = (1...count).map { "t\($0)" }
        try await fixture.sql(names.map { "CREATE SCHEMA \($0);" }.joined())
        return names
    }

    private func members(_ fixture: Fixture, _ names: [String], _ step: PlannedStep, seen: Bool = true) -> [LaneRunner.Member] {
        names.map { LaneRunner.Member(target: fixture.target(schema: $0), step: step, trackingTableSeen: seen) }
    }

    /// Runs the lane; each member's end as `name: applied` or `name: <error>`, in the order told.
    private func run(
        _ lane: LaneRunner, _ members: [LaneRunner.Member], on connection: PostgresConnection?
    ) async
        -> (ends: [String], connection: PostgresConnection?, notRun: Int)
    {
        var ends: [String] = []
        let (kept, notRun) = await lane.run(members, connection: connection) { index, result in
            let name = members[index].target.schema ?? ""
            switch result {
            case .success(let outcome): ends.append("\(name): \(outcome.alreadyApplied ? "already applied" : "applied")")
            case .failure(let error): ends.append("\(name): \(error)")
            }
        }
        return (ends, kept, notRun)
    }

    @Test("each tenant applied once with its own tracking row; first the long way (no rows yet), then two round trips a tenant on one connection")
    func appliesEachOnce() async throws {
        let fixture = try await Fixture.make("lane")
        let names = try await tenants(fixture, 6)
        let lane = LaneRunner(runner: runner(try graph(accounts, invoices)))

        let first = await run(lane, members(fixture, names, step("333300000001", .expand), seen: false), on: nil)
        #expect(first.ends == names.map { "\($0): applied" })
        #expect(first.notRun == names.count)
        let connection = try #require(first.connection)
        defer { Task { await connection.close() } }

        let before = (trips: connection.roundTrips, statements: connection.statementsSent)
        let second = await run(lane, members(fixture, names, step("333300000002", .expand)), on: connection)
        #expect(second.ends == names.map { "\($0): applied" })
        #expect(second.connection === connection)
        // Per tenant: BEGIN, the settings with the lock, the read; then the
        // statements; the tracking row and COMMIT ride with the next tenant's
        // opening. RESET ALL once: the first tenant's connection comes from elsewhere.
        #expect(connection.roundTrips - before.trips == 2 * names.count + 1)
        let own = try graph(accounts, invoices)["333300000002"]!.section(.expand)!.statements.count
        #expect(connection.statementsSent - before.statements == names.count * (own + 5) + 1)
        for name in names {
            #expect(try await fixture.tableExists("\(name).invoices"))
            #expect(
                try await fixture.records(tenant: name).map { "\($0[0]!)/\($0[1]!) \($0[2]!)" } == [
                    "333300000001/expand applied", "333300000002/expand applied",
                ])
        }
        #expect(
            try await fixture.scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
                == "0", "every lock given back")

        // Run again: found applied, nothing sent twice.
        let again = await run(lane, members(fixture, names, step("333300000002", .expand)), on: connection)
        #expect(again.ends == names.map { "\($0): already applied" })
    }

    @Test("a tenant whose statement fails touches no other and stops the lane; a tenant whose lock another session holds is skipped, not failed")
    func failureStaysWithItsTenant() async throws {
        let fixture = try await Fixture.make("lane")
        let names = try await tenants(fixture, 5)
        let revisions = try graph(accounts, invoices)
        let lane = LaneRunner(runner: runner(revisions))
        let setUp = await run(lane, members(fixture, names, step("333300000001", .expand), seen: false), on: nil)
        #expect(setUp.ends.count == 5)
        // t3 already has an invoices table of someone else's; t2's lock is held.
        try await fixture.sql("CREATE TABLE t3.invoices (note text); INSERT INTO t3.invoices VALUES ('theirs');")
        let holder = try await PostgresConnection.connect(fixture.cluster.configuration(database: fixture.database))
        defer { Task { await holder.close() } }
        let key = fixture.target(schema: "t2").advisoryLockKey
        _ = try await holder.query("SELECT pg_advisory_lock($1::int, $2::int)", [String(key.classID), String(key.objectID)])

        let result = await run(lane, members(fixture, names, step("333300000002", .expand)), on: setUp.connection)
        #expect(result.ends.count == 3, "\(result.ends)")
        #expect(result.ends.first == "t1: applied")
        #expect(result.ends.dropFirst().first?.hasPrefix("t2: ") == true && result.ends[1].contains("lock"), "\(result.ends)")
        #expect(result.ends.last?.hasPrefix("t3: ") == true && result.ends[2].contains("already exists"), "\(result.ends)")
        #expect(result.notRun == 3)
        #expect(try await fixture.tableExists("t1.invoices"))
        #expect(try await fixture.scalar("SELECT note FROM t3.invoices") == "theirs")
        for name in ["t2", "t3", "t4", "t5"] {
            #expect(try await fixture.records(tenant: name).count == 1, "\(name) has only its first revision")
        }
        #expect(try await !fixture.tableExists("t4.invoices"))

        // The rest, in a later lane.
        let rest = await run(lane, members(fixture, ["t4", "t5"], step("333300000002", .expand)), on: result.connection)
        #expect(rest.ends == ["t4: applied", "t5: applied"])
        await rest.connection?.close()
    }

    @Test("a session setting one tenant's SQL changes is reset before the next tenant")
    func settingsDoNotLeak() async throws {
        let fixture = try await Fixture.make("lane")
        let names = try await tenants(fixture, 3)
        let lane = LaneRunner(runner: runner(try graph(accounts, invoices, setsWorkMem)))
        var connection = await run(lane, members(fixture, names, step("333300000001", .expand), seen: false), on: nil).connection
        connection = await run(lane, members(fixture, names, step("333300000002", .expand)), on: connection).connection
        let last = await run(lane, members(fixture, names, step("333300000003", .expand)), on: connection)
        #expect(last.ends == names.map { "\($0): applied" })
        for name in names {
            #expect(try await fixture.scalar("SELECT work_mem FROM \(name).seen") == "4MB", "\(name) ran with the server's work_mem")
        }
        await last.connection?.close()
    }

    @Test("a cancelled lane rolls back the tenant it is on and starts no other")
    func cancelStopsTheLane() async throws {
        let fixture = try await Fixture.make("lane")
        let names = try await tenants(fixture, 4)
        let slow = """
            -- drover:revision 333300000002
            -- drover:parent 333300000001
            -- drover:expand
            CREATE TABLE invoices (id bigint PRIMARY KEY);
            SELECT pg_sleep(CASE WHEN current_schema() = 't2' THEN 30 ELSE 0 END);
            """
        let lane = LaneRunner(runner: runner(try graph(accounts, slow)))
        let connection = await run(lane, members(fixture, names, step("333300000001", .expand), seen: false), on: nil).connection
        let running = Task { await run(lane, members(fixture, names, step("333300000002", .expand)), on: connection) }
        #expect(try await eventually(timeout: .seconds(20)) { try await fixture.tableExists("t1.invoices") })
        try await Task.sleep(for: .milliseconds(300))
        running.cancel()
        let result = await running.value
        #expect(result.ends.count == 2, "\(result.ends)")
        #expect(result.ends.first == "t1: applied")
        #expect(result.ends.last?.hasPrefix("t2: ") == true && result.ends[1].contains("cancel"), "\(result.ends)")
        #expect(result.notRun == 2)
        for name in ["t2", "t3", "t4"] { #expect(try await !fixture.tableExists("\(name).invoices")) }
        await result.connection?.close()
    }
}
