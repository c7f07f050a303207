import DroverPostgres
import DroverTestSupport
import Foundation
import Testing

@Suite("Postgres connection over libpq")
struct PostgresConnectionTests {
    @Test("parameterised query returns typed rows and NULLs")
    func parameterisedQuery() async throws {
        let cluster = try await TestCluster.shared()
        let connection = try await cluster.connect()
        defer { Task { await connection.close() } }
        let result = try await connection.query("SELECT $1::int + 1 AS n, NULL::text AS empty, $2::text AS echo", ["41", "it's"])
        #expect(result.columns == ["n", "empty", "echo"])
        #expect(result.rows == [["42", nil, "it's"]])
        #expect(connection.backendPID > 0)
        #expect(connection.serverVersion >= 120000)
    }

    @Test("quoted identifiers, literals and text[] literals come back from PostgreSQL as they went in, quotes, backslashes and combining marks included")
    func quotingRoundTrips() async throws {
        let cluster = try await TestCluster.shared()
        let connection = try await cluster.connect()
        defer { Task { await connection.close() } }
        let names = ["plain", "with \"quote\"", "\"\u{301}accent after a quote", "back\\slash", "it's", "ünïcødé"]
        for name in names {
            let identifier = try await connection.query("SELECT 1 AS \(SQLQuoting.identifier(name))")
            #expect(identifier.columns == [name])
            let literal = try await connection.query("SELECT \(SQLQuoting.literal(name))")
            #expect(literal.rows == [[name]])
        }
        #expect(try await connection.query("SELECT \(SQLQuoting.literal("nul\0dropped"))").rows == [["nuldropped"]])
        let array = try await connection.query("SELECT unnest($1::text[])", [SQLQuoting.arrayLiteral(names)])
        #expect(array.rows.map { $0[0] } == names)
    }

    @Test("errors carry SQLSTATE, message and position; the connection stays usable")
    func errorsCarrySQLState() async throws {
        let cluster = try await TestCluster.shared()
        let connection = try await cluster.connect()
        defer { Task { await connection.close() } }
        do {
            try await connection.query("SELECT * FROM no_such_table")
            Issue.record("expected an error")
        } catch {
            #expect(error.sqlState == "42P01")
            #expect(error.kind == .statementFailed)
            #expect(error.message.contains("no_such_table"))
            #expect(error.position == 15)
        }
        #expect(try await connection.query("SELECT 1").scalar == "1")
    }

    @Test("URI, key=value and service= conninfo all connect")
    func conninfoForms() async throws {
        let cluster = try await TestCluster.shared()
        let uri = "postgresql://postgres@127.0.0.1:\(cluster.port)/postgres"
        let viaURI = try await PostgresConnection.connect(ConnectionConfiguration(conninfo: uri, password: Secret(TestCluster.superuserPassword)))
        #expect(try await viaURI.query("SELECT current_database()").scalar == "postgres")
        await viaURI.close()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgservice-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let serviceFile = directory.appendingPathComponent("pg_service.conf").path
        try "[drover-test]\nhost=\(cluster.socketDirectory)\nport=\(cluster.port)\nuser=postgres\ndbname=postgres\n".write(
            toFile: serviceFile, atomically: true, encoding: .utf8)
        setenv("PGSERVICEFILE", serviceFile, 1)
        defer { unsetenv("PGSERVICEFILE") }
        let viaService = try await PostgresConnection.connect(ConnectionConfiguration(conninfo: "service=drover-test"))
        #expect(try await viaService.query("SELECT 1").scalar == "1")
        await viaService.close()
    }

    @Test("a password is passed as a parameter and never appears in errors or the redacted conninfo")
    func passwordNeverLeaks() async throws {
        let cluster = try await TestCluster.shared()
        let database = try await cluster.createDatabase("pw")
        let secret = "s3cr3t-\(UUID().uuidString)"
        try await cluster.run("CREATE ROLE app_pw LOGIN PASSWORD '\(secret)'", database: database)
        // Over TCP with scram: trust is for local sockets only in this test, so require a password here.
        var configuration = ConnectionConfiguration(conninfo: cluster.tcpConninfo(database: database, user: "app_pw"), password: Secret(secret))
        let connection = try await PostgresConnection.connect(configuration)
        #expect(try await connection.query("SELECT current_user").scalar == "app_pw")
        await connection.close()

        configuration.conninfo = cluster.tcpConninfo(database: "no_such_db_\(UUID().uuidString.prefix(8))", user: "app_pw")
        do {
            _ = try await PostgresConnection.connect(configuration)
            Issue.record("expected a connect failure")
        } catch {
            #expect(error.kind == .connectFailed)
            #expect(!error.description.contains(secret))
        }
        let redacted = ConnectionConfiguration(conninfo: "host=db user=app password=\(secret) dbname=x").redacted
        #expect(!redacted.contains(secret))
        #expect(redacted.contains("host=db"))
        #expect("\(Secret(secret))" == "<redacted>")
    }

    @Test("a failed connect reports and does not leak the handle")
    func failedConnect() async throws {
        let configuration = ConnectionConfiguration(conninfo: "host=/nonexistent-dir port=1 dbname=x connect_timeout=2")
        await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(configuration)
        }
    }

    @Test("cancelling the Swift task cancels the statement on the server, on PostgresExecutor or not", arguments: [false, true])
    func cancellationBecomesPQcancel(onExecutor: Bool) async throws {
        let cluster = try await TestCluster.shared()
        let connection = try await cluster.connect()
        defer { Task { await connection.close() } }
        let clock = ContinuousClock()
        let started = clock.now
        let sleeper = task(onExecutor: onExecutor) { try await connection.query("SELECT pg_sleep(30)") }
        try await Task.sleep(for: .milliseconds(300))
        sleeper.cancel()
        let result = await sleeper.result
        #expect(clock.now - started < .seconds(10))
        guard case .failure(let error as PostgresError) = result else {
            Issue.record("expected a cancellation error, got \(result)")
            return
        }
        #expect(error.sqlState == "57014")
        #expect(connection.poolHandOffs == (onExecutor ? 0 : 1))
        #expect(try await connection.query("SELECT 2").scalar == "2")
    }

    @Test("a task on PostgresExecutor makes its libpq calls inline; any other task hands each to the pool")
    func executorRunsCallsInline() async throws {
        let cluster = try await TestCluster.shared()
        let connection = try await cluster.connect()
        defer { Task { await connection.close() } }
        let (trips, handOffs) = (connection.roundTrips, connection.poolHandOffs)
        for n in 0..<5 { #expect(try await connection.query("SELECT $1::int", [String(n)]).scalar == String(n)) }
        #expect(connection.poolHandOffs - handOffs == 5)
        try await Task(executorPreference: PostgresExecutor.shared) {
            for n in 0..<5 { #expect(try await connection.query("SELECT $1::int", [String(n)]).scalar == String(n)) }
            try await connection.transaction { try await connection.execute("SELECT 1") }
            let fresh = try await cluster.connect()
            try await fresh.execute("SELECT 1")
            await fresh.close()
        }.value
        #expect(connection.roundTrips - trips == 5 + 5 + 3)
        #expect(connection.poolHandOffs - handOffs == 5)
    }

    @Test("a blocking statement does not stall the cooperative pool, on PostgresExecutor or not", arguments: [false, true])
    func blockingCallsLeaveThePoolFree(onExecutor: Bool) async throws {
        let cluster = try await TestCluster.shared()
        // More sleepers than cooperative threads (2 here): if libpq ran on the pool,
        // the ticker below could not run until they finished.
        var connections: [PostgresConnection] = []
        for _ in 0..<4 { connections.append(try await cluster.connect()) }
        let sleepers = connections.map { connection in task(onExecutor: onExecutor) { try await connection.query("SELECT pg_sleep(3)") } }
        let clock = ContinuousClock()
        let started = clock.now
        try await Task.sleep(for: .milliseconds(100))
        // Had the sleepers taken the cooperative threads, this would wait for them (3 s).
        #expect(clock.now - started < .milliseconds(2000))
        for sleeper in sleepers { _ = try await sleeper.value }
        for connection in connections { #expect(connection.poolHandOffs == (onExecutor ? 0 : 1)) }
        for connection in connections { await connection.close() }
    }

    @Test("transactions roll back on error; notices are collected")
    func transactionsAndNotices() async throws {
        let cluster = try await TestCluster.shared()
        let database = try await cluster.createDatabase("tx")
        let connection = try await cluster.connect(database: database)
        defer { Task { await connection.close() } }
        try await connection.execute("CREATE TABLE t (id int)")
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await connection.transaction {
                try await connection.execute("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try await connection.query("SELECT count(*) FROM t").scalar == "0")
        try await connection.execute("CREATE TABLE IF NOT EXISTS t (id int)")
        #expect(connection.drainNotices().contains { $0.message.contains("already exists") })
    }

    @Test("a pipeline answers every statement in order in one round trip; a failure names its statement, skips the rest, and leaves the connection usable")
    func pipelines() async throws {
        let cluster = try await TestCluster.shared()
        let database = try await cluster.createDatabase("pipe")
        let connection = try await cluster.connect(database: database)
        defer { Task { await connection.close() } }
        let done = try await connection.pipeline([
            PipelineStatement("CREATE TABLE t (id int PRIMARY KEY)"),
            PipelineStatement("INSERT INTO t SELECT generate_series(1, $1::int)", ["3"]),
            PipelineStatement("SELECT count(*), $1::text FROM t", [nil]),
        ]).get()
        #expect(done.map(\.commandTag) == ["CREATE TABLE", "INSERT 0 3", "SELECT 1"])
        #expect(done[1].affectedRows == 3)
        #expect(done[2].rows == [["3", nil]])
        // In a transaction block: the failure leaves it failed, nothing after runs.
        let failed = try await connection.pipeline([
            PipelineStatement("BEGIN"),
            PipelineStatement("INSERT INTO t VALUES (4)"),
            PipelineStatement("INSERT INTO t VALUES (1)"),
            PipelineStatement("INSERT INTO t VALUES (5)"),
            PipelineStatement("COMMIT"),
        ])
        #expect(failed.results.count == 2)
        #expect(failed.failure?.index == 2)
        #expect(failed.failure?.error.sqlState == "23505")
        await connection.rollbackIfOpen()
        #expect(try await connection.query("SELECT array_agg(id ORDER BY id)::text FROM t").scalar == "{1,2,3}")
        // Outside a block the statements before the Sync share an implicit
        // transaction: the failure rolls back the ones before it too.
        let implicit = try await connection.pipeline([
            PipelineStatement("INSERT INTO t VALUES (6)"),
            PipelineStatement("SELECT 1/0"),
        ])
        #expect(implicit.failure?.index == 1 && implicit.failure?.error.sqlState == "22012")
        #expect(try await connection.query("SELECT count(*) FROM t").scalar == "3")
    }

    @Test("a reusable statement is prepared once per connection, prepared again after it was dropped")
    func reusableStatements() async throws {
        let cluster = try await TestCluster.shared()
        let connection = try await cluster.connect()
        defer { Task { await connection.close() } }
        let statement = PipelineStatement("SELECT $1::int * 2", ["21"], reusable: true)
        let prepared = PipelineStatement("SELECT name, statement FROM pg_prepared_statements ORDER BY name")
        var results = try await connection.pipeline([statement, statement, prepared]).get()
        #expect(results[0].scalar == "42" && results[1].scalar == "42")
        let names = results[2].rows.map { $0[0] }
        #expect(names.count == 1 || names.count == 2)  // the same text twice in one pipeline may prepare twice
        results = try await connection.pipeline([statement, prepared]).get()
        #expect(results[0].scalar == "42")
        #expect(results[1].rows.map { $0[0] } == names, "nothing prepared again")
        // Someone drops them: after forgetting, drover prepares afresh.
        try await connection.execute("DEALLOCATE ALL")
        connection.forgetPreparedStatements()
        results = try await connection.pipeline([statement, prepared]).get()
        #expect(results[0].scalar == "42")
        #expect(results[1].rows.count == 1)
    }

    @Test("cancelling the task of a pipeline cancels its running statement on the server")
    func pipelineCancellation() async throws {
        let cluster = try await TestCluster.shared()
        let connection = try await cluster.connect()
        defer { Task { await connection.close() } }
        let clock = ContinuousClock()
        let sleeper = Task {
            try await connection.pipeline([PipelineStatement("SELECT 1"), PipelineStatement("SELECT pg_sleep(30)"), PipelineStatement("SELECT 3")])
        }
        // Cancelled only once the server runs the sleep: earlier, under load, the
        // task would be cancelled before the pipeline was even sent.
        let observer = try await cluster.connect()
        defer { Task { await observer.close() } }
        while try await observer.query(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int AND state = 'active' AND query LIKE '%pg_sleep(30)%'", [String(connection.backendPID)]
        ).scalar != "1" {
            try await Task.sleep(for: .milliseconds(20))
        }
        // Timed from the cancel: under CI load the wait above alone took 11 s once.
        let cancelled = clock.now
        sleeper.cancel()
        let outcome = try await sleeper.value
        #expect(clock.now - cancelled < .seconds(10), "the 30 s sleep was cancelled, not waited out")
        #expect(outcome.results.count == 1)
        #expect(outcome.failure?.index == 1 && outcome.failure?.error.sqlState == "57014")
        #expect(try await connection.query("SELECT 2").scalar == "2")
    }

    @Test("a terminated backend is reported as a lost connection")
    func terminatedBackend() async throws {
        let cluster = try await TestCluster.shared()
        let victim = try await cluster.connect()
        let admin = try await cluster.connect()
        defer {
            Task {
                await admin.close()
                await victim.close()
            }
        }
        try await admin.query("SELECT pg_terminate_backend($1::int)", [String(victim.backendPID)])
        try await Task.sleep(for: .milliseconds(100))
        do {
            try await victim.query("SELECT 1")
            Issue.record("expected a lost connection")
        } catch {
            #expect(error.isConnectionProblem)
        }
        #expect(victim.isBroken)
    }
}

/// A task running `body`, preferring `PostgresExecutor` or not: some guarantees hold either way.
private func task<T: Sendable>(onExecutor: Bool, _ body: @escaping @Sendable () async throws -> T) -> Task<T, any Error> {
    onExecutor ? Task(executorPreference: PostgresExecutor.shared, operation: body) : Task(operation: body)
}
