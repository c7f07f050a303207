import DroverCore
import DroverDaemon
import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

@Suite("plan, windows and adopt")
struct PlanAndAdoptTests {
    @Test("plan lists databases in wave order with phases and SQL, and changes nothing")
    func plan() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme", "globex"])
        defer { fixture.remove() }
        let (fleet, loop) = try await fixture.start()
        try await waitFor(fleet, "preview expanded") { $0.database("preview")?.expanded == "r2" }
        let report = try await fleet.plan("r2", to: "tenants")
        #expect(report.databases.map(\.name) == ["tenant-acme", "tenant-globex"])
        #expect(report.databases.map(\.wave) == ["canary", "rest"])
        #expect(report.databases[0].phases.map { "\($0.phase.rawValue) \($0.revision)" } == ["expand r1", "expand r2", "backfill r2"])
        #expect(report.databases[0].phases[0].sql?.hasPrefix("CREATE TABLE docs") == true)
        #expect(report.refused?.contains("not expanded on production") == true)
        #expect(await fleet.status().tier("tenants")?.target == nil)

        let windows = await fleet.windows()
        #expect(windows.first { $0.database == "preview" }?.open == true)
        await fleet.stop()
        await loop.value
    }

    @Test("adopt records the Alembic revision a database is at, and drover moves it on from there")
    func adopt() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        // Production was migrated by Alembic to r1 by hand: the table exists, no drover rows.
        try await fixture.cluster.run(
            """
            CREATE TABLE docs (id int PRIMARY KEY, status text); INSERT INTO docs SELECT g, NULL FROM generate_series(1, 10) g;
            CREATE TABLE effects (note text);
            CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('r1');
            """, database: fixture.databases["production"]!)
        let (fleet, loop) = try await fixture.start()
        try await waitFor(fleet, "status shows the Alembic revision") { $0.database("production")?.alembic == "r1" }
        let message = try await fleet.adopt("production")
        #expect(message == "adopted production at Alembic r1: 1 phase recorded as applied")
        #expect(try await fleet.adopt("production").hasSuffix("nothing changed"))
        try await waitFor(fleet, "preview at the head") { $0.database("preview")?.expanded == "r2" }
        try await fleet.promote("r2")
        try await waitFor(fleet, "production moved on from the adopted revision") { $0.database("production")?.expanded == "r2" }
        #expect(try await fixture.scalar("SELECT string_agg(note, ',') FROM effects", in: "production") == "r2 expand")
        await fleet.stop()
        await loop.value
    }
}
