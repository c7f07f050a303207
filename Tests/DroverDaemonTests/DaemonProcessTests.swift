import DroverCore
import DroverTestSupport
import Foundation
import Testing

/// 200 batches at least 100 ms apart: after 20 rows there are seconds left to kill it
/// mid-way even when the test's own task waits for a thread (CI under load: with
/// 20 ms, and once with 50 ms, the backfill finished between the read and the SIGKILL).
let slowBackfill = [
    "0003_slow.sql": """
    -- drover:revision r3
    -- drover:parent r2
    -- drover:expand
    INSERT INTO effects VALUES ('r3 expand');
    ALTER TABLE docs ADD COLUMN slow text;
    -- drover:backfill batch=1 pause=100ms
    UPDATE docs SET slow = 'x' WHERE id IN (SELECT id FROM docs WHERE slow IS NULL LIMIT :batch);
    """
]

func droverd(_ fixture: DaemonFixture) throws -> BackgroundProcess {
    try BackgroundProcess([
        try Subprocess.builtProduct("droverd"), "--manifest", fixture.manifestDirectory, "--poll-interval", "200ms", "--shutdown-grace", "2s",
    ])
}

@Suite("droverd as a process")
struct DaemonProcessTests {
    @Test("SIGKILL in the middle of a backfill, restart: every phase at target, each expand applied once")
    func killDuringBackfill() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"], extraRevisions: slowBackfill)
        defer { fixture.remove() }
        let first = try droverd(fixture)
        let midway = try await eventually {
            (Int(try await fixture.scalar("SELECT rows_affected FROM drover.revisions WHERE revision = 'r3' AND phase = 'backfill'", in: "preview") ?? "0") ?? 0)
                >= 20
        }
        #expect(midway, "\(first.output)")
        first.signal(SIGKILL)
        #expect(await first.wait() == 128 + SIGKILL)
        #expect(try await fixture.scalar("SELECT status FROM drover.revisions WHERE revision = 'r3' AND phase = 'backfill'", in: "preview") == "running")

        let second = try droverd(fixture)
        let done = try await eventually {
            try await fixture.scalar("SELECT status || '/' || rows_affected FROM drover.revisions WHERE revision = 'r3' AND phase = 'backfill'", in: "preview")
                == "applied/200"
        }
        #expect(done, "\(second.output)")
        #expect(try await fixture.scalar("SELECT count(*) FROM docs WHERE slow IS NULL", in: "preview") == "0")
        #expect(try await fixture.scalar("SELECT string_agg(note, ',' ORDER BY note) FROM effects", in: "preview") == "r1 expand,r2 expand,r3 expand")
        #expect(second.output.contains("was in flight when droverd stopped"))

        // A second daemon on the same state file exits at once, naming the first.
        let intruder = try droverd(fixture)
        #expect(await intruder.wait(timeout: .seconds(20)) == 1)
        #expect(intruder.output.contains("another droverd (pid \(second.pid))"), "\(intruder.output)")

        second.signal(SIGTERM)
        #expect(await second.wait() == 0, "\(second.output)")
    }

    @Test("a broken manifest at start-up: exit 1 with every error listed")
    func brokenManifestAtStart() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        try "defaults:\n  lock_timout: 2s\ndatabases:\n  - {name: extra, tier: nowhere, dsn: x, window: always}\n".write(
            toFile: fixture.manifestDirectory + "/20-broken.yaml", atomically: true, encoding: .utf8)
        let process = try droverd(fixture)
        #expect(await process.wait() == 1)
        #expect(process.output.contains("20-broken.yaml:2:3"))
        #expect(process.output.contains("tier 'nowhere' is not in fleet.pipeline"))
    }

    @Test("SIGHUP with a broken manifest keeps the daemon running on the old one")
    func hangupWithBrokenManifest() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let process = try droverd(fixture)
        #expect(try await eventually { try await fixture.scalar("SELECT count(*) FROM drover.revisions", in: "preview") == "3" })
        try "databases: [oops\n".write(toFile: fixture.manifestDirectory + "/20-broken.yaml", atomically: true, encoding: .utf8)
        process.signal(SIGHUP)
        #expect(try await eventually { process.output.contains("reload refused") })
        try FileManager.default.removeItem(atPath: fixture.manifestDirectory + "/20-broken.yaml")
        process.signal(SIGHUP)
        #expect(try await eventually { process.output.contains("reloaded: 3 databases") })
        process.signal(SIGTERM)
        #expect(await process.wait() == 0)
    }
}

@Suite("Two daemons")
struct TwoDaemonTests {
    @Test("two droverd on two state files but one fleet: each phase is applied once (advisory lock)")
    func twoDaemonsOneFleet() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme", "globex"], extraRevisions: slowBackfill)
        defer { fixture.remove() }
        // A second manifest directory: the same fleet, its own state file.
        let otherManifest = fixture.directory + "/fleet-b.d"
        try FileManager.default.createDirectory(atPath: otherManifest, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: fixture.manifestDirectory + "/10-fleet.yaml", encoding: .utf8)
            .replacingOccurrences(of: "state: ../state/state.db", with: "state: ../state-b/state.db")
        try text.write(toFile: otherManifest + "/10-fleet.yaml", atomically: true, encoding: .utf8)
        let binary = try Subprocess.builtProduct("droverd")
        let first = try BackgroundProcess([binary, "--manifest", fixture.manifestDirectory, "--poll-interval", "100ms"])
        let second = try BackgroundProcess([binary, "--manifest", otherManifest, "--poll-interval", "100ms", "--socket", fixture.directory + "/run/b.sock"])
        let done = try await eventually(timeout: .seconds(60)) {
            try await fixture.scalar("SELECT status FROM drover.revisions WHERE revision = 'r3' AND phase = 'backfill'", in: "preview") == "applied"
        }
        #expect(done, "\(first.output)\n---\n\(second.output)")
        #expect(try await fixture.scalar("SELECT string_agg(note, ',' ORDER BY note) FROM effects", in: "preview") == "r1 expand,r2 expand,r3 expand")
        #expect(try await fixture.scalar("SELECT rows_affected FROM drover.revisions WHERE revision = 'r3' AND phase = 'backfill'", in: "preview") == "200")
        first.signal(SIGTERM)
        second.signal(SIGTERM)
        #expect(await first.wait() == 0)
        #expect(await second.wait() == 0)
    }
}

@Suite("droverd killed in the middle of a wave")
struct KillDuringWaveTests {
    @Test("SIGKILL while the second wave runs, restart: every tenant at target, each expand once")
    func killDuringWave() async throws {
        let tenants = ["acme", "globex", "initech", "umbrella"]
        let waves = "waves:\n  tenants:\n    - {name: canary, select: {names: [tenant-acme]}}\n    - {name: rest, select: {all: true}, max_parallel: 1}\n"
        let fixture = try await DaemonFixture.make(tenants: tenants, waves: waves, extraRevisions: slowBackfill)
        defer { fixture.remove() }
        // Tenants first in the pipeline: they follow the head without a promotion.
        let manifest = fixture.manifestDirectory + "/10-fleet.yaml"
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
            .replacingOccurrences(of: "  state: ../state/state.db", with: "  state: ../state/state.db\n  pipeline: [tenants, preview, production]")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)

        func backfillState(_ schema: String) async throws -> String? {
            try await fixture.scalar("SELECT status FROM drover.revisions WHERE schema = '\(schema)' AND revision = 'r3' AND phase = 'backfill'", in: "shared")
        }
        let first = try droverd(fixture)
        let inSecondWave = try await eventually(timeout: .seconds(60)) {
            guard try await backfillState("acme") == "applied" else { return false }
            for tenant in tenants.dropFirst() where try await backfillState(tenant) == "running" { return true }
            return false
        }
        #expect(inSecondWave, "\(first.output)")
        first.signal(SIGKILL)
        _ = await first.wait()

        let second = try droverd(fixture)
        var allDone = true
        for tenant in tenants {
            let done = try await eventually(timeout: .seconds(90)) { try await backfillState(tenant) == "applied" }
            allDone = allDone && done
            #expect(
                try await fixture.scalar("SELECT string_agg(note, ',' ORDER BY note) FROM \(tenant).effects", in: "shared") == "r1 expand,r2 expand,r3 expand",
                "\(tenant)")
            #expect(
                try await fixture.scalar(
                    "SELECT rows_affected FROM drover.revisions WHERE schema = '\(tenant)' AND revision = 'r3' AND phase = 'backfill'", in: "shared")
                    == "200", "\(tenant)")
        }
        #expect(allDone, "\(second.output)")
        second.signal(SIGTERM)
        #expect(await second.wait() == 0)
    }
}
