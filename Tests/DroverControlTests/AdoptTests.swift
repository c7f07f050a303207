import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

@Suite("adopt: an Alembic-managed database onto drover's own SQL revisions")
struct AdoptTests {
    @Test("a database Alembic left at two heads is held until adopted, then only what it lacks runs")
    func adoptSeveralHeads() async throws {
        let fixture = try await FleetFixture.make(
            tenants: ["acme"],
            extraRevisions: [
                "0003_side.sql": "-- drover:revision r1b\n-- drover:parent r1\n-- drover:expand\nINSERT INTO effects VALUES ('r1b expand');\n",
                "0004_merge.sql": "-- drover:revision r3\n-- drover:parent r2 r1b\n-- drover:expand\nINSERT INTO effects VALUES ('r3 expand');\n",
            ])
        defer { fixture.remove() }
        // What Alembic made of production: the schema of r1, r2 and r1b, at two heads.
        try await fixture.cluster.run(
            """
            CREATE TABLE docs (id int PRIMARY KEY, status text NOT NULL);
            CREATE TABLE effects (note text);
            CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
            INSERT INTO alembic_version VALUES ('r2'), ('r1b');
            """, database: fixture.databases["production"]!)
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }

        try await daemon.waitFor("preview at r3") { $0.database("preview")?.expanded == "r3" }
        #expect(try await daemon.ctl("promote", "r3").status == 0)
        try await daemon.waitFor("production held, naming adopt") {
            $0.database("production")?.alembic == "r1b,r2" && $0.database("production")?.error?.contains("droverctl adopt production") == true
        }
        try await Task.sleep(for: .milliseconds(600))  // a few scheduler rounds: nothing may run on it
        #expect(try await fixture.scalar("SELECT count(*) FROM effects", in: "production") == "0")
        #expect(try await fixture.scalar("SELECT to_regclass('drover.revisions') IS NULL", in: "production") == "t")

        let adopted = try await daemon.ctl("adopt", "production")
        #expect(adopted.status == 0 && adopted.output.contains("adopted production at Alembic r1b, r2"), "\(adopted.output)\(adopted.errors)")
        try await daemon.waitFor("production expanded to r3") { $0.database("production")?.expanded == "r3" }
        #expect(try await fixture.scalar("SELECT string_agg(note, ',') FROM effects", in: "production") == "r3 expand")
        let stamped = try await fixture.cluster.run(
            "SELECT revision || '/' || phase FROM drover.revisions WHERE status = 'stamped' ORDER BY 1", database: fixture.databases["production"]!
        ).rows.compactMap { $0[0] }
        #expect(stamped == ["r1/expand", "r1b/expand", "r2/backfill", "r2/contract", "r2/expand"])
        #expect(try await daemon.audit().contains { $0.hasPrefix("adopt|alembic=r1b, r2 db=production|adopted production") })

        // Nothing to adopt: a clear refusal, audited.
        let nothing = try await daemon.ctl("adopt", "preview")
        #expect(
            nothing.status == 1 && nothing.errors.contains("preview has no rows in public.alembic_version (no such table): nothing to adopt"),
            "\(nothing.errors)")
    }
}
