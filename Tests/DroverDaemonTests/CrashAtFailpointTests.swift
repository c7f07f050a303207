import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// r3: three statements outside a transaction, each leaving its own effect.
private let noTransaction = [
    "0003_nt.sql": """
    -- drover:revision r3
    -- drover:parent r2
    -- drover:expand
    -- drover:no-transaction
    INSERT INTO effects VALUES ('r3 statement 1');
    INSERT INTO effects VALUES ('r3 statement 2');
    INSERT INTO effects VALUES ('r3 statement 3');
    """
]

@Suite("droverd SIGKILLed at each failpoint (issue #7)")
struct CrashAtFailpointTests {
    @Test(
        "SIGKILL at the failpoint, restart: preview at target, every effect exactly once, no phase recorded twice",
        arguments: [
            "phase-before-commit=crash", "phase-after-commit=crash@2", "backfill-between-batches=crash@2", "no-transaction-between-statements=crash@1",
            "scheduler-loop=crash@4",
        ])
    func crashAndRestart(failpoint: String) async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"], extraRevisions: noTransaction)
        defer { fixture.remove() }
        let arguments = [try Subprocess.builtProduct("droverd"), "--manifest", fixture.manifestDirectory, "--poll-interval", "200ms", "--shutdown-grace", "2s"]

        let first = try BackgroundProcess(arguments, environment: ["DROVER_FAILPOINTS": failpoint])
        let status = await first.wait(timeout: .seconds(60))
        let name = String(failpoint.prefix { $0 != "=" })
        #expect(status == 128 + SIGKILL, "droverd did not crash at \(name): \(first.output)")
        #expect(first.output.contains("failpoint \(name): crashing"))

        let second = try BackgroundProcess(arguments)
        let done = try await eventually(timeout: .seconds(60)) {
            try await fixture.scalar("SELECT count(*) FROM drover.revisions WHERE revision = 'r3' AND status = 'applied'", in: "preview") == "1"
        }
        #expect(done, "\(second.output)")
        let effects = try await fixture.cluster.run("SELECT note, count(*) FROM effects GROUP BY note ORDER BY note", database: fixture.databases["preview"]!)
            .rows
        #expect(effects.map { "\($0[0] ?? "")×\($0[1] ?? "")" } == ["r1 expand×1", "r2 expand×1", "r3 statement 1×1", "r3 statement 2×1", "r3 statement 3×1"])
        #expect(try await fixture.scalar("SELECT rows_affected FROM drover.revisions WHERE revision = 'r2' AND phase = 'backfill'", in: "preview") == "200")
        #expect(try await fixture.scalar("SELECT count(*) FROM docs WHERE status = 'new'", in: "preview") == "200")
        let phases = try await fixture.cluster.run(
            "SELECT revision || '/' || phase || '/' || status FROM drover.revisions ORDER BY 1", database: fixture.databases["preview"]!
        ).rows.compactMap { $0[0] }
        #expect(phases == ["r1/expand/applied", "r2/backfill/applied", "r2/expand/applied", "r3/expand/applied"])

        // The state store's history names each applied phase once, also the one that
        // committed just before the crash (recovered from the tracking row at restart).
        let script =
            "import sqlite3,sys\nfor r in sqlite3.connect(sys.argv[1]).execute(\"SELECT revision || '/' || phase, count(*) FROM history WHERE database = 'preview' AND outcome = 'applied' GROUP BY 1 ORDER BY 1\"): print('%s×%d' % r)"
        let history = try await Subprocess.run(["python3", "-c", script, fixture.statePath]).output.split(separator: "\n").map(String.init)
        #expect(
            history == ["r1/expand×1", "r2/backfill×1", "r2/expand×1", "r3/expand×1"], "\(name): \(history)\nfirst:\n\(first.output)\nsecond:\n\(second.output)"
        )
        second.signal(SIGTERM)
        #expect(await second.wait() == 0)
    }

    @Test(
        "SIGKILL right after a commit, databases refusing connections at the restart: the intent waits, is checked once they answer, and history has every phase once"
    )
    func intentCheckedOnceReachable() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let arguments = [try Subprocess.builtProduct("droverd"), "--manifest", fixture.manifestDirectory, "--poll-interval", "200ms", "--shutdown-grace", "2s"]
        let first = try BackgroundProcess(arguments, environment: ["DROVER_FAILPOINTS": "phase-after-commit=crash@2"])
        #expect(await first.wait(timeout: .seconds(60)) == 128 + SIGKILL, "\(first.output)")
        let databases = [fixture.databases["preview"]!]  // the only tier that moves without a promotion
        for database in databases { _ = try await fixture.cluster.run("ALTER DATABASE \(database) ALLOW_CONNECTIONS false", database: "postgres") }

        let second = try BackgroundProcess(arguments)
        #expect(try await eventually(timeout: .seconds(30)) { second.output.contains("cannot check") }, "\(second.output)")
        for database in databases { _ = try await fixture.cluster.run("ALTER DATABASE \(database) ALLOW_CONNECTIONS true", database: "postgres") }
        #expect(
            try await eventually(timeout: .seconds(60)) {
                try await fixture.scalar(
                    "SELECT count(*) FROM drover.revisions WHERE revision = 'r2' AND phase = 'backfill' AND status = 'applied'", in: "preview") == "1"
            }, "\(second.output)")
        second.signal(SIGTERM)
        #expect(await second.wait() == 0)
        let script =
            "import sqlite3,sys\nfor r in sqlite3.connect(sys.argv[1]).execute(\"SELECT database || ' ' || revision || '/' || phase, count(*) FROM history WHERE outcome = 'applied' GROUP BY 1 ORDER BY 1\"): print('%s×%d' % r)"
        let history = try await Subprocess.run(["python3", "-c", script, fixture.statePath]).output.split(separator: "\n").map(String.init)
        #expect(
            history == ["preview r1/expand×1", "preview r2/backfill×1", "preview r2/expand×1"],
            "\(history)\n\(second.output)")
    }

    @Test("SIGKILL while a reload is taken (new manifest read, not yet in force), restart: the new revision applies once")
    func crashDuringReload() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let arguments = [try Subprocess.builtProduct("droverd"), "--manifest", fixture.manifestDirectory, "--poll-interval", "200ms", "--shutdown-grace", "2s"]
        let first = try BackgroundProcess(arguments, environment: ["DROVER_FAILPOINTS": "reload=crash"])
        #expect(
            try await eventually(timeout: .seconds(60)) {
                try await fixture.scalar(
                    "SELECT count(*) FROM drover.revisions WHERE revision = 'r2' AND phase = 'backfill' AND status = 'applied'", in: "preview") == "1"
            }, "\(first.output)")
        try noTransaction["0003_nt.sql"]!.write(toFile: fixture.directory + "/migrations/0003_nt.sql", atomically: true, encoding: .utf8)
        first.signal(SIGHUP)
        #expect(await first.wait(timeout: .seconds(30)) == 128 + SIGKILL, "\(first.output)")
        #expect(first.output.contains("failpoint reload: crashing"))
        #expect(try await fixture.scalar("SELECT count(*) FROM effects WHERE note LIKE 'r3%'", in: "preview") == "0", "the reload never came into force")

        let second = try BackgroundProcess(arguments)
        #expect(
            try await eventually(timeout: .seconds(60)) {
                try await fixture.scalar("SELECT count(*) FROM drover.revisions WHERE revision = 'r3' AND status = 'applied'", in: "preview") == "1"
            }, "\(second.output)")
        let effects = try await fixture.cluster.run("SELECT note, count(*) FROM effects GROUP BY note ORDER BY note", database: fixture.databases["preview"]!)
            .rows
        #expect(effects.map { "\($0[0] ?? "")×\($0[1] ?? "")" } == ["r1 expand×1", "r2 expand×1", "r3 statement 1×1", "r3 statement 2×1", "r3 statement 3×1"])
        second.signal(SIGTERM)
        #expect(await second.wait() == 0)
    }
}
