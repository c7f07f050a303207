import DroverCore
import DroverPostgres
import DroverRunner
import DroverTestSupport
import Foundation
import Testing

/// A revision file of the test project. `body` is the upgrade's Python, indented
/// by four spaces.
func alembicRevision(_ id: String, down: String?, phase: String? = nil, message: String = "a revision", _ body: String) -> String {
    """
    \"\"\"\(message)

    Revision ID: \(id)
    \"\"\"
    import os
    from alembic import op

    revision = "\(id)"
    down_revision = \(down.map { $0.hasPrefix("(") ? $0 : "\"\($0)\"" } ?? "None")
    branch_labels = None
    depends_on = None
    \(phase.map { "drover_phase = \"\($0)\"" } ?? "")


    def upgrade():
    \(body.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))


    def downgrade():
        pass

    """
}

@Suite("Alembic revisions through the phase runner (real alembic)")
struct AlembicRunnerTests {
    struct Setup {
        let fixture: Fixture
        let project: AlembicProjectFixture
        let repository: RevisionRepository
        let folder: String

        var url: String { AlembicProjectFixture.url(fixture.cluster, database: fixture.database) }

        func runner() -> PhaseRunner {
            PhaseRunner(
                graph: repository.graph, actor: "tests",
                alembic: AlembicRunner(project: repository.alembic!, command: AlembicCommand(command: [project.alembic], urlScheme: "postgresql+psycopg2")))
        }

        func versions() async throws -> [String] {
            try await fixture.sql("SELECT version_num FROM alembic_version ORDER BY 1").rows.compactMap { $0[0] }
        }

        func effects() async throws -> [String] {
            try await fixture.sql("SELECT note FROM effects ORDER BY note").rows.compactMap { $0[0] }
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    static func setup(_ revisions: [String: String]) async throws -> Setup {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drover-alembic-\(UUID().uuidString.prefix(8))").path
        let project = try await AlembicProjectFixture.make(in: folder, revisions: revisions)
        let (repository, diagnostics) = RevisionRepository.load(directory: project.ini)
        let loaded = try #require(repository, "\(diagnostics)")
        return Setup(fixture: try await Fixture.make("alembic"), project: project, repository: loaded, folder: folder)
    }

    static let root = alembicRevision(
        "aa0000000001", down: nil,
        """
        op.execute("CREATE TABLE effects (note text)")
        op.execute("INSERT INTO effects SELECT 'app=' || current_setting('application_name')")
        op.execute("INSERT INTO effects SELECT 'lock_timeout=' || current_setting('lock_timeout')")
        op.execute("INSERT INTO effects SELECT 'drover locks=' || count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        print("url=" + os.environ["DATABASE_URL"])
        """)

    @Test("alembic upgrade runs under drover's lock with the database's settings; alembic_version is recorded as the truth")
    func upgradeRecorded() async throws {
        let setup = try await Self.setup(["0001_root.py": Self.root])
        defer { setup.remove() }
        let outcome = try await setup.runner().run(step("aa0000000001", .expand), on: setup.fixture.session())
        #expect(!outcome.alreadyApplied)
        #expect(outcome.output?.contains("Running upgrade  -> aa0000000001") == true, "\(outcome.output ?? "")")
        #expect(try await setup.versions() == ["aa0000000001"])
        #expect(try await setup.effects() == ["app=drover/aa0000000001/expand", "drover locks=1", "lock_timeout=300ms"])
        let rows = try await setup.fixture.sql("SELECT revision, phase, status, checksum FROM drover.revisions").rows
        #expect(rows.count == 1 && rows[0][0] == "aa0000000001" && rows[0][1] == "expand" && rows[0][2] == "applied")
        #expect(rows[0][3] == setup.repository.graph["aa0000000001"]?.sections[.expand]?.checksum)

        // Once applied, the same step finds it applied.
        #expect(try await setup.runner().run(step("aa0000000001", .expand), on: setup.fixture.session()).alreadyApplied)
    }

    @Test("the password reaches Alembic through the environment only: never in the URL, the output or an error")
    func passwordNotInURL() async throws {
        let setup = try await Self.setup(["0001_root.py": Self.root])
        defer { setup.remove() }
        let password = TestCluster.superuserPassword
        let target = DatabaseTarget(
            name: "tcp",
            connection: ConnectionConfiguration(conninfo: setup.fixture.cluster.tcpConninfo(database: setup.fixture.database), password: Secret(password)),
            settings: Fixture.fastSettings)
        let outcome = try await setup.runner().run(step("aa0000000001", .expand), on: RunnerSession(target: target))
        let output = try #require(outcome.output)
        #expect(output.contains("url=postgresql+psycopg2://postgres@127.0.0.1:\(setup.fixture.cluster.port)/\(setup.fixture.database)"), "\(output)")
        #expect(!output.contains(password))
    }

    @Test("a failing upgrade is a failed phase with Alembic's last error lines, and the database is as before")
    func failureLeavesDatabaseAsBefore() async throws {
        let setup = try await Self.setup([
            "0001_root.py": Self.root,
            "0002_bad.py": alembicRevision(
                "aa0000000002", down: "aa0000000001",
                """
                op.execute("INSERT INTO effects VALUES ('bad ran')")
                op.execute("SELECT * FROM no_such_table")
                """),
        ])
        defer { setup.remove() }
        _ = try await setup.runner().run(step("aa0000000001", .expand), on: setup.fixture.session())
        let before = try await setup.effects()
        do {
            _ = try await setup.runner().run(step("aa0000000002", .expand), on: setup.fixture.session())
            Issue.record("the failing revision was reported applied")
        } catch {
            #expect(error.description.contains("alembic upgrade aa0000000002 exited 1"), "\(error)")
            #expect(error.description.contains("relation \"no_such_table\" does not exist"), "\(error)")
            #expect(!error.description.contains("Traceback"))
            #expect(error.output?.contains("Traceback") == true)
        }
        #expect(try await setup.versions() == ["aa0000000001"])
        #expect(try await setup.effects() == before)
        #expect(try await setup.fixture.scalar("SELECT status FROM drover.revisions WHERE revision = 'aa0000000002'") == "failed")

        // Fixed and applied by hand, Alembic's table is the truth: drover finds it applied.
        try setup.project.write(
            revision: "0002_bad.py", alembicRevision("aa0000000002", down: "aa0000000001", "op.execute(\"INSERT INTO effects VALUES ('fixed')\")"))
        let repository = try #require(RevisionRepository.load(directory: setup.project.ini).repository)
        let byHand = try await setup.project.run(["upgrade", "head"], url: setup.url)
        #expect(byHand.status == 0, "\(byHand.errors)")
        let runner = PhaseRunner(graph: repository.graph, actor: "tests", alembic: setup.runner().alembic)
        let observed = try await runner.observe(setup.fixture.session())
        #expect(observed.alembicVersions == ["aa0000000002"])
        #expect(observed.state.expanded == "aa0000000002")
        #expect(try await runner.run(step("aa0000000002", .expand), on: setup.fixture.session()).alreadyApplied)
        #expect(try await setup.fixture.scalar("SELECT status FROM drover.revisions WHERE revision = 'aa0000000002'") == "applied")
    }

    @Test("cancelling a running upgrade stops Alembic, rolls its transaction back and leaves no server session behind")
    func cancellation() async throws {
        let setup = try await Self.setup([
            "0001_root.py": Self.root,
            "0002_slow.py": alembicRevision(
                "aa0000000002", down: "aa0000000001",
                """
                op.execute("INSERT INTO effects VALUES ('slow started')")
                op.execute("SELECT pg_sleep(60)")
                """),
        ])
        defer { setup.remove() }
        _ = try await setup.runner().run(step("aa0000000001", .expand), on: setup.fixture.session())
        let before = try await setup.effects()
        let runner = setup.runner()
        let session = setup.fixture.session()
        let task = Task { try await runner.run(step("aa0000000002", .expand), on: session) }
        let sleeping = try await eventually(timeout: .seconds(20)) {
            try await setup.fixture.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'drover/aa0000000002/expand' AND query LIKE '%pg_sleep%'") == "1"
        }
        #expect(sleeping)
        let started = ContinuousClock.now
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - started < .seconds(15))
        guard case .failure(let error as RunnerError) = result, case .cancelled = error else {
            Issue.record("expected a cancellation, got \(result)")
            return
        }
        let gone = try await eventually(timeout: .seconds(10)) {
            try await setup.fixture.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()") == "0"
        }
        #expect(gone)
        #expect(try await setup.versions() == ["aa0000000001"])
        #expect(try await setup.effects() == before)
    }

    @Test("a lock timeout inside Alembic is retried with backoff, like drover's own SQL")
    func lockTimeoutRetried() async throws {
        let setup = try await Self.setup([
            "0001_root.py": Self.root,
            "0002_alter.py": alembicRevision("aa0000000002", down: "aa0000000001", "op.execute(\"ALTER TABLE effects ADD COLUMN at timestamptz\")"),
        ])
        defer { setup.remove() }
        _ = try await setup.runner().run(step("aa0000000001", .expand), on: setup.fixture.session())
        let blocker = try await setup.fixture.cluster.connect(database: setup.fixture.database)
        try await blocker.execute("BEGIN; SELECT * FROM effects;")  // ACCESS SHARE until COMMIT
        var settings = Fixture.fastSettings
        settings.retry = RetryPolicy(attempts: 20, minBackoff: .milliseconds(100), maxBackoff: .milliseconds(200))
        // Each attempt waits 2 s for the lock: under CI load Alembic's start-up took
        // most of each cycle, and 300 ms waits slipped between the test's polls.
        settings.lockTimeout = .seconds(2)
        let runner = setup.runner()
        let session = setup.fixture.session(settings: settings)
        let phase = Task { try await runner.run(step("aa0000000002", .expand), on: session) }
        // Alembic's start-up alone took up to a minute in CI's parallel pass (this test
        // ran 64 to 101 s there): wait that long for its first attempt to queue.
        let waited = try await eventually(timeout: .seconds(90)) {
            try await setup.fixture.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'drover/aa0000000002/expand' AND wait_event_type = 'Lock'") == "1"
        }
        #expect(waited)
        try await Task.sleep(for: .milliseconds(2500))  // longer than a wait: that attempt timed out
        try await blocker.execute("COMMIT")
        await blocker.close()
        let outcome = try await phase.value
        #expect(outcome.attempts > 1)
        #expect(try await setup.versions() == ["aa0000000002"])
    }

    @Test("a schema tenant: Alembic runs with the tenant's search_path, so its tables and its version table are in the tenant's schema")
    func schemaTenant() async throws {
        let setup = try await Self.setup(["0001_root.py": Self.root])
        defer { setup.remove() }
        try await setup.fixture.sql("CREATE SCHEMA acme")
        let outcome = try await setup.runner().run(step("aa0000000001", .expand), on: setup.fixture.session(schema: "acme"))
        #expect(!outcome.alreadyApplied && outcome.alembicVersions == ["aa0000000001"])
        #expect(try await setup.fixture.scalar("SELECT string_agg(version_num, ',') FROM acme.alembic_version") == "aa0000000001")
        #expect(try await setup.fixture.tableExists("acme.effects"))
        #expect(try await !setup.fixture.tableExists("public.effects"))
        #expect(try await setup.fixture.scalar("SELECT status FROM drover.revisions WHERE schema = 'acme' AND revision = 'aa0000000001'") == "applied")
        #expect(try await setup.runner().observe(setup.fixture.session(schema: "acme")).state.expanded == "aa0000000001")
    }

    @Test("the version table is read where the database's alembic.version_table and version_table_schema say")
    func configuredVersionTable() async throws {
        let fixture = try await Fixture.make("alembicvt")
        try await fixture.sql(
            "CREATE SCHEMA meta; CREATE TABLE meta.tenant_versions (version_num varchar(32) PRIMARY KEY); INSERT INTO meta.tenant_versions VALUES ('bb0000000001');"
        )
        var settings = Fixture.fastSettings
        let revisions = try graph("-- drover:revision bb0000000001\n-- drover:parent none\n-- drover:expand\nSELECT 1;")
        #expect(try await runner(revisions).observe(fixture.session(settings: settings)).alembicVersions == nil)
        settings.alembicVersionTable = "tenant_versions"
        settings.alembicVersionTableSchema = "meta"
        #expect(try await runner(revisions).observe(fixture.session(settings: settings)).alembicVersions == ["bb0000000001"])
        let batch = try await runner(revisions).observe(
            [fixture.target(settings: settings)], on: try await PostgresConnection.connect(fixture.cluster.configuration(database: fixture.database)))
        #expect(batch.values.first?.alembicVersions == ["bb0000000001"])
    }
}
