import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

private let root = "3f1c0a9b2d01", body = "7be2d4c6a802", tags = "c4a9e1f05b03", merge = "e8d2b7a91c04"

/// `upgrade()` of a test revision; every revision records its effect once.
private func revisionFile(_ id: String, down: String, phase: String? = nil, labels: String = "None", _ upgrade: [String]) -> String {
    """
    \"\"\"\(id) of the Alembic fleet test

    Revision ID: \(id)
    \"\"\"
    from alembic import op

    revision = "\(id)"
    down_revision = \(down)
    branch_labels = \(labels)
    depends_on = None
    \(phase.map { "drover_phase = \"\($0)\"" } ?? "")


    def upgrade():
    \((upgrade + ["op.execute(\"INSERT INTO effects VALUES ('\(id)')\")"]).map { "    " + $0 }.joined(separator: "\n"))


    def downgrade():
        pass

    """
}

/// root ─┬─ body ─┬─ merge (contract: drops documents.legacy)
///       └─ tags ─┘
private let project = [
    "1_root.py": revisionFile(
        root, down: "None",
        [
            "op.execute(\"CREATE TABLE documents (id int PRIMARY KEY, title text, legacy text)\")",
            "op.execute(\"CREATE TABLE effects (note text)\")",
        ]),
    "2_body.py": revisionFile(body, down: "\"\(root)\"", ["op.execute(\"ALTER TABLE documents ADD COLUMN body text\")"]),
    "2_tags.py": revisionFile(tags, down: "\"\(root)\"", labels: "(\"tags\",)", ["op.execute(\"CREATE TABLE tags (name text PRIMARY KEY)\")"]),
    "3_merge.py": revisionFile(merge, down: "(\"\(body)\", \"\(tags)\")", phase: "contract", ["op.execute(\"ALTER TABLE documents DROP COLUMN legacy\")"]),
]

/// The manifest's first lines for a fleet on the test's Alembic project.
private func fleetHeader(_ name: String, _ alembic: AlembicProjectFixture) -> String {
    """
    fleet:
      name: \(name)
      migrations: ../alembic-project/alembic.ini
      state: ../state/state.db
      socket: ../run/control.sock
      alembic: {command: "\(alembic.alembic)", url_scheme: postgresql+psycopg2}
    windows:
      always: {always: true}

    """
}

@Suite("An Alembic project driven across a fleet by droverd (real alembic)")
struct AlembicFleetTests {
    @Test("check, adopt, preview follows head, promote, release, contract in window, a failing revision — alembic current agrees with status throughout")
    func rollout() async throws {
        let cluster = try await TestCluster.shared()
        var databases: [String: String] = [:]
        for name in ["preview", "production", "tenant-a", "tenant-b"] {
            databases[name] = try await cluster.createDatabase(name.replacingOccurrences(of: "-", with: ""))
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-alembic-fleet-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let alembic = try await AlembicProjectFixture.make(in: directory, revisions: project)
        try FileManager.default.createDirectory(atPath: directory + "/fleet.d", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/secrets", withIntermediateDirectories: true)
        try (TestCluster.superuserPassword + "\n").write(toFile: directory + "/secrets/production", atomically: true, encoding: .utf8)
        try
            (fleetHeader("alembic-test", alembic) + """
                defaults:
                  window: always
                  lock_timeout: 2s
                  retry: {attempts: 2, min_backoff: 100ms, max_backoff: 200ms}
                databases:
                  - {name: preview, tier: preview, dsn: "\(cluster.conninfo(database: databases["preview"]!))"}
                  - {name: production, tier: production, dsn: "\(cluster.tcpConninfo(database: databases["production"]!))", password_file: ../secrets/production}
                  - {name: tenant-a, tier: tenants, dsn: "\(cluster.conninfo(database: databases["tenant-a"]!))"}
                  - {name: tenant-b, tier: tenants, dsn: "\(cluster.conninfo(database: databases["tenant-b"]!))"}
                """).write(toFile: directory + "/fleet.d/10-fleet.yaml", atomically: true, encoding: .utf8)
        func url(_ name: String) -> String { AlembicProjectFixture.url(cluster, database: databases[name]!) }
        let droverctl = try Subprocess.builtProduct("droverctl")

        // check: a database at an Alembic revision the project does not have.
        try await cluster.run(
            "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('ffff0000aaaa')",
            database: databases["tenant-b"]!)
        let check = try await Subprocess.run([droverctl, "check", directory + "/fleet.d"])
        #expect(check.status == 0, "\(check.errors)")
        #expect(
            check.errors.contains(
                "10-fleet.yaml:17:12: warning: database tenant-b is at Alembic revision ffff0000aaaa (public.alembic_version), which the revision repository does not have"
            ), "\(check.errors)")
        #expect(check.output.contains("4 revisions, head \(merge)") && check.output.contains("4 of 4 databases read"), "\(check.output)")
        let offline = try await Subprocess.run([droverctl, "check", "--offline", directory + "/fleet.d"])
        #expect(offline.status == 0 && !offline.errors.contains("ffff0000aaaa"))

        // The tenants were Alembic's before drover: one upgraded, one created by hand and stamped.
        try await cluster.run("DROP TABLE alembic_version", database: databases["tenant-b"]!)
        #expect(try await alembic.run(["upgrade", root], url: url("tenant-b")).status == 0)
        try await cluster.run(
            "CREATE TABLE documents (id int PRIMARY KEY, title text, legacy text); CREATE TABLE effects (note text); INSERT INTO effects VALUES ('\(root)')",
            database: databases["tenant-a"]!)
        #expect(try await alembic.run(["stamp", root], url: url("tenant-a")).status == 0)

        let fixture = FleetFixture(cluster: cluster, directory: directory, databases: databases)
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }

        /// After each step: what `alembic current` prints for every database is what
        /// status shows in its alembic column.
        func agree(_ step: String) async throws {
            let status = try await daemon.json(FleetStatus.self, "status")
            for name in databases.keys.sorted() {
                let current = try await alembic.current(url: url(name))
                let shown = status.database(name)?.alembic?.split(separator: ",").map(String.init).sorted() ?? []
                #expect(current == shown, "\(step): \(name): alembic current \(current), status \(shown)")
            }
        }

        try await daemon.waitFor("preview expanded to the merge, its contract waiting for release") {
            $0.database("preview")?.expanded == merge && $0.database("preview")?.state == .waitingRelease
        }
        try await agree("preview at head")
        #expect(try await alembic.current(url: url("preview")) == [body, tags], "two heads before the merge")
        #expect(try await daemon.json(FleetStatus.self, "status").database("tenant-a")?.alembic == root)

        let adopted = try await daemon.ctl("adopt", "tenant-a")
        #expect(adopted.status == 0 && adopted.output.contains("adopted tenant-a at Alembic \(root)"), "\(adopted.output)\(adopted.errors)")
        #expect(try await daemon.ctl("adopt", "tenant-a").output.contains("nothing changed"))
        #expect(try await daemon.audit().contains { $0.hasPrefix("adopt|alembic=\(root) db=tenant-a|adopted tenant-a") })

        let plan = try await daemon.json(PlanReport.self, "plan", merge)
        // Alembic's upgrade order: the merge's second parent first.
        #expect(plan.databases.first?.phases.map { "\($0.phase.rawValue) \($0.revision)" } == ["expand \(root)", "expand \(tags)", "expand \(body)"])
        #expect(plan.databases.first?.phases.first?.sql?.hasPrefix("alembic upgrade \(root)") == true)

        #expect(try await daemon.ctl("promote", merge).status == 0)
        try await daemon.waitFor("production expanded") { $0.database("production")?.expanded == merge && $0.database("production")?.state == .waitingRelease }
        try await agree("production promoted")

        #expect(try await daemon.ctl("release", merge, "--tier", "preview").status == 0)
        try await daemon.waitFor("preview contracted") { $0.database("preview")?.contracted == merge && $0.database("preview")?.state == .current }
        try await agree("preview released")
        #expect(try await daemon.json(FleetStatus.self, "status").database("production")?.state == .waitingRelease)

        #expect(try await daemon.ctl("release", merge, "--tier", "production").status == 0)
        #expect(try await daemon.ctl("promote", merge, "--to", "tenants").status == 0)
        try await daemon.waitFor("tenants expanded, production contracted") { status in
            status.database("production")?.state == .current
                && ["tenant-a", "tenant-b"].allSatisfy { status.database($0)?.expanded == merge && status.database($0)?.state == .waitingRelease }
        }
        try await agree("tenants promoted")
        #expect(try await daemon.ctl("release", merge).status == 0)
        try await daemon.waitFor("every database current") { status in status.databases.allSatisfy { $0.state == .current && $0.contracted == merge } }
        try await agree("all released")

        for (name, database) in databases {
            let effects = try await cluster.run("SELECT note FROM effects ORDER BY note", database: database).rows.compactMap { $0[0] }
            #expect(effects == [root, body, tags, merge].sorted(), "\(name): every revision exactly once: \(effects)")
            #expect(
                try await cluster.run(
                    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'documents' AND column_name = 'legacy'", database: database
                ).scalar == "0")
        }
        let history = try await daemon.json(HistoryReply.self, "history", "preview")
        #expect(
            history.entries.contains {
                $0.revision == merge && $0.phase == .contract && $0.outcome == "applied"
                    && $0.output?.contains("Running upgrade \(body), \(tags) -> \(merge)") == true
            })
        #expect(try await daemon.ctl("history", "preview", "--output").output.contains("Running upgrade  -> \(root)"))

        // A failing revision: a failed phase with Alembic's error, the database as before.
        try alembic.write(revision: "4_bad.py", revisionFile("bad000000005", down: "\"\(merge)\"", ["op.execute(\"SELECT * FROM no_such_table\")"]))
        #expect(try await daemon.ctl("reload").status == 0)
        try await daemon.waitFor("preview failed") { $0.database("preview")?.state == .failed }
        let failed = try await daemon.json(FleetStatus.self, "status").database("preview")
        #expect(
            failed?.error?.contains("alembic upgrade bad000000005 exited 1") == true
                && failed?.error?.contains("relation \"no_such_table\" does not exist") == true, "\(failed?.error ?? "")")
        #expect(try await alembic.current(url: url("preview")) == [merge])
        #expect(try await cluster.run("SELECT count(*) FROM effects WHERE note = 'bad000000005'", database: databases["preview"]!).scalar == "0")
        try await agree("after the failure")

        // The production password (password_file, TCP) is nowhere in what drover said.
        let said = [
            try await daemon.ctl("history", "--json").output, try await daemon.ctl("status", "--json").output,
            try await daemon.ctl("history", "--output").output, daemon.process.output,
        ]
        #expect(said[0].contains("Running upgrade") && said[3].contains("production"))
        #expect(!said.joined().contains(TestCluster.superuserPassword))
    }
}

extension Isolated {
    @Suite("An Alembic fleet when droverd dies after alembic upgrade")
    struct AlembicCrashTests {
        @Test("SIGKILL after alembic upgrade committed and before drover's tracking row (failpoint), restart: the version table decides, each revision once")
        func crashAfterUpgrade() async throws {
            let cluster = try await TestCluster.shared()
            let databases = ["preview": try await cluster.createDatabase("alembiccrash"), "production": try await cluster.createDatabase("alembiccrashprod")]
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-alembic-crash-\(UUID().uuidString.prefix(8))").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let alembic = try await AlembicProjectFixture.make(
                in: directory, revisions: ["1_root.py": project["1_root.py"]!, "2_body.py": project["2_body.py"]!])
            try FileManager.default.createDirectory(atPath: directory + "/fleet.d", withIntermediateDirectories: true)
            try
                (fleetHeader("alembic-crash", alembic) + """
                    defaults: {window: always}
                    databases:
                      - {name: preview, tier: preview, dsn: "\(cluster.conninfo(database: databases["preview"]!))"}
                      - {name: production, tier: production, dsn: "\(cluster.conninfo(database: databases["production"]!))"}
                    """).write(toFile: directory + "/fleet.d/10-fleet.yaml", atomically: true, encoding: .utf8)
            let fixture = FleetFixture(cluster: cluster, directory: directory, databases: databases)
            let url = AlembicProjectFixture.url(cluster, database: databases["preview"]!)
            func tracked(_ revision: String) async throws -> String? {
                try await fixture.scalar("SELECT count(*) FROM drover.revisions WHERE revision = '\(revision)' AND status = 'applied'", in: "preview")
            }

            // Both revisions go in one alembic upgrade (a stretch): the crash comes after
            // Alembic committed both and before drover wrote either row.
            let first = try await RunningDaemon.start(fixture, environment: ["DROVER_FAILPOINTS": "alembic-after-upgrade=crash@1"])
            #expect(await first.process.wait(timeout: .seconds(90)) == 128 + SIGKILL, "\(first.process.output)")
            #expect(first.process.output.contains("failpoint alembic-after-upgrade: crashing"))
            #expect(try await alembic.current(url: url) == [body], "Alembic committed both revisions")
            #expect(try await tracked(root) == "0")
            #expect(try await tracked(body) == "0", "drover's rows were not written before the crash")

            let second = try await RunningDaemon.start(fixture)
            defer { second.kill() }
            try await second.waitFor("preview at the head") { $0.database("preview")?.expanded == body }
            #expect(try await tracked(root) == "1")
            #expect(try await tracked(body) == "1")
            #expect(
                try await cluster.run("SELECT note FROM effects ORDER BY note", database: databases["preview"]!).rows.compactMap { $0[0] }
                    == [root, body].sorted(),
                "each revision's upgrade ran once")
        }
    }
}
