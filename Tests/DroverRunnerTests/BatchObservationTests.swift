import DroverCore
import DroverPostgres
import DroverRunner
import DroverTestSupport
import Testing

@Suite("Batched observation of schema tenants")
struct BatchObservationTests {
    @Test("one batch reads the same records, Alembic rows and lock holders as one query set per tenant")
    func sameAsOneByOne() async throws {
        let fixture = try await Fixture.make("batch")
        let schemas = ["a1", "b2", "c3", "d4"]
        try await fixture.sql(schemas.map { "CREATE SCHEMA \($0);" }.joined())
        let revisions = try graph(
            """
            -- drover:revision 333300000001
            -- drover:parent none
            -- drover:expand
            CREATE TABLE t (id int);
            """,
            """
            -- drover:revision 333300000002
            -- drover:parent 333300000001
            -- drover:expand
            ALTER TABLE t ADD COLUMN c int;
            """)
        // a1 at 2, b2 at 1, c3 untouched with an Alembic table, d4 locked by someone.
        _ = try await runner(revisions).migrate(fixture.session(schema: "a1"), to: "333300000002", contractThrough: nil)
        _ = try await runner(revisions).migrate(fixture.session(schema: "b2"), to: "333300000001", contractThrough: nil)
        try await fixture.sql("CREATE TABLE c3.alembic_version (version_num varchar(32)); INSERT INTO c3.alembic_version VALUES ('x1'), ('x2');")
        let holder = try await fixture.cluster.connect(database: fixture.database)
        let key = fixture.target(schema: "d4").advisoryLockKey
        try await holder.query("SELECT pg_advisory_lock($1::int, $2::int)", [String(key.classID), String(key.objectID)])

        let targets = schemas.map { fixture.target(schema: $0) }
        let connection = try await fixture.cluster.connect(database: fixture.database)
        let batch = try await runner(revisions).observe(targets, on: connection)
        for target in targets {
            let single = try await runner(revisions).observe(target, on: connection)
            let batched = try #require(batch[target.name])
            #expect(batched.records == single.records, "\(target.name)")
            #expect(batched.alembicVersions == single.alembicVersions, "\(target.name)")
            #expect(batched.lockHolderPID == single.lockHolderPID, "\(target.name)")
            #expect(batched.state == single.state, "\(target.name)")
        }
        #expect(batch[targets[0].name]?.state.expanded == "333300000002")
        #expect(batch[targets[1].name]?.state.expanded == "333300000001")
        #expect(batch[targets[2].name]?.alembicVersions == ["x1", "x2"])
        #expect(batch[targets[3].name]?.lockHolderPID == holder.backendPID)
        await holder.close()
        await connection.close()
    }
}
