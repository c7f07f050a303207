import DroverCore
import DroverPostgres
import DroverRunner
import DroverTestSupport
import Testing

/// The server itself is the reference for what runs in a transaction block.
@Suite("Transaction rules against a real PostgreSQL")
struct TransactionControlTests {
    static let setUp = """
        CREATE TABLE t (c int);
        CREATE INDEX t_c_idx ON t (c);
        CREATE TYPE mood AS ENUM ('ok');
        CREATE TABLE p (k int) PARTITION BY RANGE (k);
        CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
        CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one;
        """

    /// Statements drover says PostgreSQL refuses in a transaction block, and some it
    /// must not say that of.
    static let statements: [(sql: String, refused: Bool)] = [
        ("CREATE INDEX CONCURRENTLY t_c2_idx ON t (c)", true),
        ("create unique index concurrently if not exists t_c3_idx on t (c)", true),
        ("DROP INDEX CONCURRENTLY t_c_idx", true),
        ("REINDEX TABLE CONCURRENTLY t", true),
        ("REINDEX (VERBOSE) INDEX CONCURRENTLY t_c_idx", true),
        ("REINDEX DATABASE drover_nonexistent", true),
        ("REINDEX SYSTEM drover_nonexistent", true),
        ("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", true),
        ("VACUUM t", true),
        ("VACUUM (FULL, ANALYZE) t", true),
        ("vacuum", true),
        ("CREATE DATABASE drover_never", true),
        ("DROP DATABASE IF EXISTS drover_never", true),
        ("ALTER DATABASE drover_nonexistent SET TABLESPACE pg_default", true),
        ("CREATE TABLESPACE drover_ts LOCATION '/nonexistent'", true),
        ("DROP TABLESPACE IF EXISTS drover_ts", true),
        ("ALTER SYSTEM SET work_mem = '4MB'", true),
        ("CLUSTER", true),
        ("DISCARD ALL", true),
        ("ALTER TYPE mood ADD VALUE 'sad'", false),
        ("ANALYZE t", false),
        ("CLUSTER t USING t_c_idx", false),
        ("REINDEX TABLE t", false),
        ("REINDEX INDEX t_c_idx", false),
        ("CREATE INDEX t_c4_idx ON t (c)", false),
        ("DROP INDEX t_c_idx", false),
        ("ALTER TABLE p DETACH PARTITION p1", false),
        ("REFRESH MATERIALIZED VIEW mv", false),
        ("DISCARD PLANS", false),
        ("LOCK TABLE t IN ACCESS EXCLUSIVE MODE", false),
        ("ALTER DATABASE postgres SET work_mem = '4MB'", false),
    ]

    @Test("every statement drover calls refused in a transaction block is refused by the server (25001), and no other")
    func refusedInTransactionBlock() async throws {
        let fixture = try await Fixture.make("txrules")
        try await fixture.sql(Self.setUp)
        let connection = try await fixture.cluster.connect(database: fixture.database)
        defer { Task { await connection.close() } }
        for (sql, refused) in Self.statements {
            let statement = SQLSplitter.split(sql)[0]
            #expect((TransactionRules.refusedInTransactionBlock(statement) != nil) == refused, "drover's classification of \(sql)")
            try await connection.execute("BEGIN")
            var sqlState: String?
            do { _ = try await connection.execute(sql) } catch { sqlState = error.sqlState }
            await connection.rollbackIfOpen()
            #expect((sqlState == "25001") == refused, "the server on \(sql): SQLSTATE \(sqlState ?? "none")")
        }
    }

    @Test("transaction control: the statements drover calls so end, chain or open the server's transaction; ROLLBACK TO and SAVEPOINT do not")
    func transactionControl() async throws {
        let fixture = try await Fixture.make("txctl")
        let connection = try await fixture.cluster.connect(database: fixture.database)
        defer { Task { await connection.close() } }
        let cases: [(sql: String, control: Bool)] = [
            ("COMMIT", true), ("commit work", true), ("COMMIT AND CHAIN", true), ("END", true), ("END TRANSACTION", true),
            ("ROLLBACK", true), ("ABORT", true), ("ROLLBACK AND CHAIN", true), ("BEGIN", true), ("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", true),
            ("SAVEPOINT s", false), ("ROLLBACK TO SAVEPOINT s", false), ("ROLLBACK TO s", false), ("RELEASE SAVEPOINT s", false),
            ("SELECT 1", false),
        ]
        for (sql, control) in cases {
            #expect((TransactionRules.transactionControl(SQLSplitter.split(sql)[0]) != nil) == control, "drover's classification of \(sql)")
            try await connection.execute("BEGIN")
            if sql.contains("TO") || sql.contains("RELEASE") { try await connection.execute("SAVEPOINT s") }
            // What the runner sees after a section's pipeline: the transaction gone,
            // or a COMMIT's tag (AND CHAIN opens a new one at once). BEGIN inside a
            // transaction and ROLLBACK AND CHAIN only show to the check before sending.
            let outcome = try await connection.pipeline([PipelineStatement(sql)])
            let ended = !outcome.inTransaction || outcome.results.contains { TransactionRules.commits(commandTag: $0.commandTag) }
            #expect(
                ended == (control && !["BEGIN", "START TRANSACTION ISOLATION LEVEL SERIALIZABLE", "ROLLBACK AND CHAIN"].contains(sql)),
                "\(sql): \(outcome.results.map(\.commandTag))")
            await connection.rollbackIfOpen()
        }
    }

    @Test("the runner refuses a transactional phase with a COMMIT inside before sending anything; the database stays as it was")
    func runnerRefusesCommitInsidePhase() async throws {
        let fixture = try await Fixture.make("txrun")
        let text = """
            -- drover:revision r1
            -- drover:parent none
            -- drover:expand
            CREATE TABLE t (a int);
            """
        let commits = """
            -- drover:revision r2
            -- drover:parent r1
            -- drover:expand
            BEGIN;
            ALTER TABLE t ADD COLUMN b int;
            COMMIT;
            ALTER TABLE t ADD COLUMN c int REFERENCES nonexistent (x);
            """
        // `check` and loading refuse this file; the runner must too, for a caller that skipped them.
        let (second, diagnostics) = RevisionParser.parseKeepingErrors(commits, file: "r2.sql")
        #expect(diagnostics.errors.contains { $0.rule == "transaction-control" && $0.location?.line == 4 })
        let revisions = RevisionGraph.build([RevisionParser.parse(text, file: "r1.sql").revision!, second!]).graph
        let session = fixture.session()
        defer { Task { await session.close() } }
        _ = try await runner(revisions).run(step("r1", .expand), on: session)
        await #expect(throws: RunnerError.self) { try await runner(revisions).run(step("r2", .expand), on: session) }
        #expect(try await fixture.scalar("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0") == "1")
        #expect(try await fixture.records().contains { $0[0] == "r2" && $0[2] == "applied" } == false)
    }
}
