import DroverCore
import DroverDaemon
import DroverProtocol
import DroverRunner
import DroverTestSupport
import Foundation
import Testing

@Suite("The daemon's fleet loop against a real PostgreSQL")
struct FleetTests {
    @Test("preview follows head; promote, release and waves move production and tenants; each expand runs once")
    func pipeline() async throws {
        let fixture = try await DaemonFixture.make()
        defer { fixture.remove() }
        let (fleet, loop) = try await fixture.start()

        try await waitFor(fleet, "preview expanded to the head") {
            $0.database("preview")?.expanded == "r2" && $0.database("preview")?.state == .waitingRelease
        }
        #expect(await fleet.status().database("production")?.state == .current)
        #expect(await fleet.status().tier("production")?.state == "idle")

        // Promotion to tenants is refused while production lags.
        _ = try await fleet.promote("r2")
        await #expect(throws: FleetError.self) { try await fleet.promote("r2", to: "tenants") }
        #expect(try await fleet.promote("r2") == "production already has target r2; nothing changed")
        try await waitFor(fleet, "production expanded") { $0.database("production")?.expanded == "r2" }

        try await releaseAndRollOutToTenants(fleet, "r2")
        let status = await fleet.status()
        #expect(status.tiers.map(\.state) == ["done", "done", "done"])
        #expect(status.database("tenant-acme")?.wave == "canary")
        #expect(status.database("tenant-globex")?.wave == "rest")

        // The canary's expand finished (and soaked) before the rest started.
        let history = try await fleet.history()
        let canaryDone = try #require(history.first { $0.database == "tenant-acme" && $0.phase == .backfill }?.finishedAt)
        let restStarted = try #require(history.filter { $0.database != "tenant-acme" && $0.database.hasPrefix("tenant") }.map(\.startedAt).min())
        #expect(restStarted.timeIntervalSince(canaryDone) >= 1.0)

        // Exactly once: every expand left one row in every database.
        for (role, schema) in [("preview", "public"), ("production", "public"), ("shared", "acme"), ("shared", "globex"), ("shared", "initech")] {
            #expect(try await fixture.scalar("SELECT count(*) FROM \(schema).effects", in: role) == "2", "\(role)/\(schema)")
        }
        await fleet.stop()
        await loop.value
    }

    @Test("a failure in a wave with budget 0 halts the tier; retry after a fix completes it")
    func haltAndRetry() async throws {
        let waves = "waves:\n  tenants:\n    - {name: all, select: {all: true}, failure_budget: 0}\n"
        let fixture = try await DaemonFixture.make(tenants: ["acme", "globex"], waves: waves)
        defer { fixture.remove() }
        // globex already has a docs table: its expand fails.
        _ = try await fixture.cluster.run("CREATE TABLE globex.docs (id int)", database: fixture.databases["shared"]!)
        let (fleet, loop) = try await fixture.start()
        try await fleet.deploy("r1", tier: "tenants")
        try await waitFor(fleet, "tenants halted") { $0.tier("tenants")?.state == "halted" }
        let halted = await fleet.status()
        #expect(halted.tier("tenants")?.failed == ["tenant-globex"])
        #expect(halted.database("tenant-globex")?.state == .failed)
        #expect(halted.database("tenant-globex")?.error?.contains("already exists") == true)

        _ = try await fixture.cluster.run("DROP TABLE globex.docs", database: fixture.databases["shared"]!)
        try await fleet.retry("tenant-globex")
        try await waitFor(fleet, "globex expanded after retry") { $0.database("tenant-globex")?.expanded == "r1" && $0.tier("tenants")?.state != "halted" }
        await fleet.stop()
        await loop.value
    }

    @Test("pause keeps a tier still, and survives a restart of the daemon")
    func pauseSurvivesRestart() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        var (fleet, loop) = try await fixture.start()
        try await fleet.pause(database: "preview")
        try await Task.sleep(for: .milliseconds(600))
        #expect(await fleet.status().database("preview")?.state == .paused)
        #expect(try await fixture.scalar("SELECT to_regclass('docs') IS NULL", in: "preview") == "t")
        await fleet.stop()
        await loop.value

        (fleet, loop) = try await fixture.start()
        try await Task.sleep(for: .milliseconds(600))
        #expect(await fleet.status().database("preview")?.state == .paused)
        try await fleet.resume(database: "preview")
        try await waitFor(fleet, "preview moves after resume") { $0.database("preview")?.expanded == "r2" }
        await fleet.stop()
        await loop.value
    }

    @Test("a second daemon on the same state file is refused, naming the first one's pid")
    func oneDaemonPerStateFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drover-state-\(UUID().uuidString)/state.db").path
        let first = try StateStore(path: path)
        #expect(throws: StateStoreError.inUse(path: path, pid: getpid())) { _ = try StateStore(path: path) }
        _ = first
    }

    @Test("a reload with a broken manifest keeps the old one and reports every error")
    func brokenReloadKeepsOld() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let (fleet, loop) = try await fixture.start()
        try "databases:\n  - {name: preview, tier: nowhere, dsn: x, windw: always}\n".write(
            toFile: fixture.manifestDirectory + "/20-broken.yaml", atomically: true, encoding: .utf8)
        do {
            try await fleet.reload()
            Issue.record("expected the reload to be refused")
        } catch {
            guard case .manifestInvalid(let diagnostics) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(diagnostics.errors.count >= 2)
            #expect(diagnostics.errors.contains { $0.message.contains("unknown key 'windw'") })
        }
        #expect(await fleet.status().databases.count == 3)
        try await waitFor(fleet, "still moving on the old manifest") { $0.database("preview")?.expanded == "r2" }
        await fleet.stop()
        await loop.value
    }

    @Test("drift lists databases whose schema differs at the same revision")
    func drift() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme", "globex"], waves: "waves:\n  tenants:\n    - {name: all, select: {all: true}}\n")
        defer { fixture.remove() }
        let (fleet, loop) = try await fixture.start()
        try await fleet.deploy("r1", tier: "tenants")
        try await waitFor(fleet, "tenants expanded") { $0.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.expanded == "r1" } }
        // Someone adds an index by hand in globex; the next phase's fingerprint shows it.
        _ = try await fixture.cluster.run("CREATE INDEX docs_status_idx ON globex.docs (status)", database: fixture.databases["shared"]!)
        try await fleet.deploy("r2", tier: "tenants")
        try await waitFor(fleet, "tenants expanded to r2") { $0.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.expanded == "r2" } }
        let reports = await fleet.drift()
        #expect(reports.count == 1, "\(reports)")
        #expect(reports.first?.database == "tenant-globex")
        #expect(reports.first?.differences.contains { $0.contains("docs_status_idx") } == true)
        await fleet.stop()
        await loop.value
    }
}

@Suite("Windows in the running daemon")
struct FleetWindowTests {
    @Test("a closed window keeps the contract waiting and the state says waiting-window")
    func closedWindow() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        // A daily window that opens two hours from now (UTC) for 30 minutes.
        let hour = (Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour! + 2) % 24
        let manifest = fixture.manifestDirectory + "/10-fleet.yaml"
        var text = try String(contentsOfFile: manifest, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "  always: {always: true}",
            with:
                "  always: {always: true}\n  later: {days: [mon, tue, wed, thu, fri, sat, sun], start: \"\(hour < 10 ? "0" : "")\(hour):00\", duration: 30min}")
        text = text.replacingOccurrences(of: "tier: production, dsn:", with: "tier: production, window: later, dsn:")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)
        let (fleet, loop) = try await fixture.start()
        try await waitFor(fleet, "preview expanded") { $0.database("preview")?.expanded == "r2" }
        try await fleet.promote("r2")
        try await fleet.release("r2")
        try await waitFor(fleet, "production expanded, contract waiting for its window") {
            $0.database("production")?.expanded == "r2" && $0.database("production")?.state == .waitingWindow
        }
        try await waitFor(fleet, "preview contracted (its window is always open)") { $0.database("preview")?.contracted == "r2" }
        let production = await fleet.status().database("production")
        #expect(production?.contracted == "r1")
        #expect(production?.next_window?.contains(":00:00") == true)
        await fleet.stop()
        await loop.value
    }
}

@Suite("Promotion gate in the running daemon")
struct PromotionGateTests {
    @Test("promote is refused while a preview database failed, and while previews drifted")
    func refusedOnFailureAndDrift() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let second = try await fixture.cluster.createDatabase("preview2")
        // preview-2 already has a docs table: its first expand fails.
        _ = try await fixture.cluster.run("CREATE TABLE docs (id int PRIMARY KEY, status text, extra int)", database: second)
        let manifest = fixture.manifestDirectory + "/10-fleet.yaml"
        let text = try String(contentsOfFile: manifest, encoding: .utf8).replacingOccurrences(
            of: "  - {name: production,",
            with: "  - {name: preview-2, tier: preview, dsn: \"\(fixture.cluster.conninfo(database: second))\"}\n  - {name: production,")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)
        let (fleet, loop) = try await fixture.start()
        // The implicit single wave has a budget of 0: the preview tier halts.
        try await waitFor(fleet, "preview-2 failed, preview halted") { $0.database("preview-2")?.state == .failed && $0.tier("preview")?.state == "halted" }
        await #expect(throws: FleetError.self) { try await fleet.promote("r1") }
        do {
            try await fleet.promote("r1")
        } catch {
            #expect(error.description.contains("preview has failed database: preview-2"), "\(error)")
        }

        // Fixed by hand, but not the same shape: the extra column stays.
        _ = try await fixture.cluster.run(
            "DROP TABLE docs; CREATE TABLE docs (id int PRIMARY KEY, status text, extra int); INSERT INTO docs SELECT g FROM generate_series(1, 200) g; CREATE TABLE effects (note text);",
            database: second)
        try await fleet.stamp("preview-2", revision: "r1", reason: "created by hand")
        try await fleet.retry("preview-2")
        try await waitFor(fleet, "both previews expanded after the retry lifted the halt") {
            $0.database("preview-2")?.expanded == "r2" && $0.database("preview")?.expanded == "r2"
        }
        do {
            try await fleet.promote("r2")
            Issue.record("expected a refusal for drift")
        } catch {
            #expect(error.description.contains("schema drift between preview databases at r2"), "\(error)")
        }
        let drift = await fleet.drift()
        #expect(drift.contains { $0.differences.contains("column docs.extra extra") || $0.differences.contains("column docs.extra missing") })
        // An operator may override, with a reason.
        await #expect(throws: FleetError.self) { try await fleet.promote("r2", force: true) }
        #expect(try await fleet.promote("r2", force: true, reason: "extra column is known and harmless") == "production now targets r2")
        await fleet.stop()
        await loop.value
    }
}

@Suite("Tamper found by the daemon")
struct TamperTests {
    @Test("an applied revision edited and a new one added: tampered (not failed, no halt, no failure history); stamp moves it to the head at once")
    func tamperThenStamp() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let (fleet, loop) = try await fixture.start()
        try await waitFor(fleet, "preview expanded to the head") { $0.database("preview")?.expanded == "r2" }

        let first = fixture.directory + "/migrations/0001_docs.sql"
        try (try String(contentsOfFile: first, encoding: .utf8) + "\nCOMMENT ON TABLE docs IS 'edited after it ran';\n").write(
            toFile: first, atomically: true, encoding: .utf8)
        try "-- drover:revision r3\n-- drover:parent r2\n-- drover:expand\nINSERT INTO effects VALUES ('r3 expand');\n"
            .write(toFile: fixture.directory + "/migrations/0003_more.sql", atomically: true, encoding: .utf8)
        try await fleet.reload()
        try await waitFor(fleet, "preview tampered") { $0.database("preview")?.state == .tampered }
        try await Task.sleep(for: .milliseconds(500))  // a few ticks: nothing may start on it
        let status = await fleet.status()
        #expect(status.database("preview")?.state == .tampered)
        #expect(status.tier("preview")?.state != "halted")
        #expect(status.tier("preview")?.failed == [])
        #expect(try await fleet.history("preview").contains { $0.outcome == "failed" } == false)
        #expect(try await fixture.scalar("SELECT count(*) FROM effects WHERE note = 'r3 expand'", in: "preview") == "0")

        _ = try await fleet.stamp("preview", revision: "r1", phase: .expand, reason: "checked: the edit only adds a comment")
        try await waitFor(fleet, timeout: .seconds(10), "preview at the head after the stamp") { $0.database("preview")?.expanded == "r3" }
        await fleet.stop()
        await loop.value
    }
}

@Suite("Promotion bound to a reviewed plan")
struct PlanHashTests {
    @Test("the plan hash changes with a revision file; promote with a stale hash is refused, and fleet.require_plan_hash makes it mandatory")
    func planHash() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        try "fleet:\n  require_plan_hash: [production]\n".write(toFile: fixture.manifestDirectory + "/90-approval.yaml", atomically: true, encoding: .utf8)
        let (fleet, loop) = try await fixture.start()
        try await waitFor(fleet, "preview expanded to the head") { $0.database("preview")?.expanded == "r2" }

        let reviewed = try await fleet.plan("r2").plan_hash
        #expect(try await fleet.plan("r2").plan_hash == reviewed, "the same plan, the same hash")
        do {
            _ = try await fleet.promote("r2")
            Issue.record("a promotion without the hash was accepted")
        } catch {
            guard case .invalidParameter("plan_hash", _) = error else {
                Issue.record("\(error)")
                return
            }
        }

        // The contract of r2 is edited: the plan is no longer what was reviewed.
        let file = fixture.directory + "/migrations/0002_status.sql"
        try (try String(contentsOfFile: file, encoding: .utf8)).replacingOccurrences(
            of: "INSERT INTO effects VALUES ('r2 expand');", with: "INSERT INTO effects VALUES ('r2 expand, edited');"
        )
        .write(toFile: file, atomically: true, encoding: .utf8)
        try await fleet.reload()
        let current = try await fleet.plan("r2").plan_hash
        #expect(current != reviewed)
        do {
            _ = try await fleet.promote("r2", planHash: reviewed)
            Issue.record("a promotion with a stale hash was accepted")
        } catch {
            guard case .planChanged(_, "production", reviewed, current) = error else {
                Issue.record("\(error)")
                return
            }
        }
        #expect(try await fleet.promote("r2", planHash: current) == "production now targets r2")
        await fleet.stop()
        await loop.value
    }
}
