import DroverCore
import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

@Suite("droverctl against a real droverd")
struct DroverctlTests {
    @Test("preview follows the head; plan, promote (twice: one effect), release, waves, history — through droverctl")
    func rollout() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme", "globex"])
        defer { fixture.remove() }
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }

        try await daemon.waitFor("preview expanded to r2") { $0.database("preview")?.expanded == "r2" }
        #expect(try await daemon.json(FleetStatus.self, "status", "--db", "preview").database("preview")?.state == .waitingRelease)

        let plan = try await daemon.json(PlanReport.self, "plan", "r2")
        #expect(plan.tier == "production" && plan.refused == nil)
        #expect(plan.databases.map(\.name) == ["production"])
        #expect(plan.databases[0].phases.map { "\($0.phase.rawValue) \($0.revision)" } == ["expand r1", "expand r2", "backfill r2"])
        #expect(plan.databases[0].phases[0].sql?.contains("CREATE TABLE docs") == true)
        let withoutSQL = try await daemon.ctl("plan", "r2", "--no-sql", "--json")
        #expect(withoutSQL.status == 0 && !withoutSQL.output.contains("\"sql\"") && withoutSQL.output.contains("\"phases\""), "\(withoutSQL.output)")
        let humanPlan = try await daemon.ctl("plan", "r2")
        #expect(humanPlan.status == 0 && humanPlan.output.contains("promote r2 to production: would be accepted now"), "\(humanPlan.output)")

        // Bound to the reviewed plan: a hash that is not the plan's is refused.
        let stale = try await daemon.ctl("promote", "r2", "--plan-hash", String(repeating: "0", count: 64), "--json")
        #expect(
            stale.status == 1 && stale.output.contains("io.drover.Fleet.PlanChanged") && stale.output.contains(plan.plan_hash), "\(stale.output)\(stale.errors)"
        )
        #expect(humanPlan.output.contains("plan hash: \(plan.plan_hash)"))
        let first = try await daemon.ctl("promote", "r2", "--plan-hash", plan.plan_hash)
        #expect(first.status == 0 && first.output == "production now targets r2\n", "\(first.output)\(first.errors)")
        #expect(try await daemon.audit().contains { $0.contains("plan_hash=\(plan.plan_hash)") })
        let again = try await daemon.ctl("promote", "r2")
        #expect(again.status == 0 && again.output.contains("nothing changed"))
        try await daemon.waitFor("production expanded to r2") { $0.database("production")?.expanded == "r2" }

        #expect(try await daemon.ctl("release", "r2").status == 0)
        try await daemon.waitFor("contracts in preview and production") { status in
            ["preview", "production"].allSatisfy { status.database($0)?.state == .current && status.database($0)?.contracted == "r2" }
        }
        #expect(try await daemon.ctl("promote", "r2", "--to", "tenants").status == 0)
        try await daemon.waitFor("tenants current") { status in
            status.tier("tenants")?.state == "done" && status.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.contracted == "r2" }
        }

        // The JSON status has every field of docs/cli.md, nulls included.
        let raw = try await daemon.ctl("status", "--json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(raw.output.utf8)) as? [String: Any])
        let row = try #require((object["databases"] as? [[String: Any]])?.first)
        #expect(
            Set(row.keys).isSuperset(of: [
                "name", "tier", "wave", "server", "schema", "expanded", "contracted", "target", "state", "next_window", "error", "alembic",
            ]))
        #expect(row["schema"] is NSNull)
        let tier = try #require((object["tiers"] as? [[String: Any]])?.first)
        #expect(Set(tier.keys).isSuperset(of: ["name", "target", "released", "state", "wave", "failed"]))

        let history = try await daemon.json(HistoryReply.self, "history", "production")
        #expect(history.entries.contains { $0.revision == "r2" && $0.phase == .contract && $0.outcome == "applied" && $0.actor.hasPrefix("droverd@") })
        #expect(history.entries.allSatisfy { $0.database == "production" && $0.seconds >= 0 })
        #expect(history.entries.first?.phase == .contract, "newest first")
        #expect(history.entries.map(\.started_at) == history.entries.map(\.started_at).sorted(by: >))
        let humanHistory = try await daemon.ctl("history")
        #expect(humanHistory.output.hasPrefix("STARTED ") && humanHistory.output.contains("DURATION") && !humanHistory.output.contains("\u{1B}["))

        // Each change is in the audit log once, with the caller's uid and pid; the
        // repeated promote is there as "nothing changed", the stale plan hash as refused.
        let audit = try await daemon.audit()
        #expect(audit.filter { $0.hasPrefix("promote|") }.count == 4, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("promote|") && $0.contains("nothing changed|\(getuid())|") })
    }

    @Test("tables for people; refusals exit 1 with the reason; bad usage exits 2; no daemon exits 3 with a hint")
    func exitCodesAndTables() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }

        let status = try await daemon.ctl("status")
        #expect(status.status == 0)
        let lines = status.output.split(separator: "\n")
        #expect(lines.first?.hasPrefix("DATABASE ") == true && lines.contains { $0.hasPrefix("TIER ") })
        // Columns line up: every database row starts its TIER column where the header does.
        let tierColumn = try #require(lines.first?.range(of: "TIER")?.lowerBound.utf16Offset(in: String(lines[0])))
        for line in lines.dropFirst().prefix(3) { #expect(String(line).dropFirst(tierColumn).first != " ", "\(line)") }

        let unknown = try await daemon.ctl("retry", "tenant-acm")
        #expect(unknown.status == 1 && unknown.errors.contains("unknown database tenant-acm (did you mean tenant-acme?)"), "\(unknown.errors)")
        let json = try await daemon.ctl("status", "--db", "nope", "--json")
        #expect(json.status == 1 && json.output.contains("\"error\" : \"io.drover.Fleet.UnknownDatabase\""), "\(json.output)")
        let refused = try await daemon.ctl("promote", "r2", "--to", "tenants")
        #expect(refused.status == 1 && refused.errors.contains("promotion of r2 to tenants refused"), "\(refused.errors)")
        #expect(try await daemon.ctl("deploy", "r9", "--tier", "preview").status == 1)
        #expect(try await daemon.ctl("promote").status == 2)
        #expect(try await daemon.ctl("promote", "r2", "--force").status == 2)
        #expect(try await daemon.ctl("pause", "--tier", "tenants", "--db", "tenant-acme").status == 2)
        #expect(try await daemon.ctl("stamp", "preview", "r1", "--phase", "sideways", "--reason", "x").status == 2)
        // A watch that asks for no kind is bad usage (it would otherwise stream forever).
        for kinds in ["", " , "] {
            let watcher = try BackgroundProcess([try Subprocess.builtProduct("droverctl"), "watch", "--kind", kinds, "--socket", daemon.socket])
            #expect(await watcher.wait(timeout: .seconds(10)) == 2, "--kind '\(kinds)': \(watcher.output)")
        }

        let paused = try await daemon.ctl("pause", "--db", "tenant-acme")
        #expect(paused.status == 0 && paused.output == "tenant-acme paused\n")
        #expect(try await daemon.ctl("pause", "--db", "tenant-acme").output.contains("already paused; nothing changed"))
        try await daemon.waitFor("tenant-acme paused") { $0.database("tenant-acme")?.state == .paused }
        #expect(try await daemon.ctl("resume", "--db", "tenant-acme").status == 0)

        let windows = try await daemon.json(WindowsReply.self, "windows")
        #expect(windows.windows.count == 3 && windows.windows.allSatisfy { $0.open && $0.window == "always" })
        #expect(try await daemon.json(DriftReply.self, "drift").databases.isEmpty)

        let missing = try await Subprocess.run([try Subprocess.builtProduct("droverctl"), "status", "--socket", fixture.directory + "/nowhere.sock"])
        #expect(missing.status == 3)
        #expect(
            missing.errors.contains("cannot connect to \(fixture.directory)/nowhere.sock") && missing.errors.contains("is droverd running?"),
            "\(missing.errors)")
        let viaEnvironment = try await Subprocess.run(
            [try Subprocess.builtProduct("droverctl"), "status", "--json"], environment: ["DROVER_SOCKET": daemon.socket])
        #expect(viaEnvironment.status == 0)
    }

    @Test("watch streams events until the daemon goes away; --json gives one object per line")
    func watch() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let daemon = try await RunningDaemon.start(fixture)
        let watcher = try BackgroundProcess([try Subprocess.builtProduct("droverctl"), "watch", "--json", "--socket", daemon.socket])
        let resumes = try BackgroundProcess([try Subprocess.builtProduct("droverctl"), "watch", "--json", "--kind", "bogus,resume", "--socket", daemon.socket])
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await daemon.ctl("pause", "--tier", "tenants").status == 0)
        #expect(try await daemon.ctl("resume", "--tier", "tenants").status == 0)
        #expect(try await eventually { watcher.output.contains("\"kind\":\"resume\"") && resumes.output.contains("\"kind\":\"resume\"") }, "\(watcher.output)")
        #expect(watcher.output.contains("\"kind\":\"pause\""))
        // --kind: the resume, not the pause before it.
        #expect(resumes.output.split(separator: "\n").count == 1, "\(resumes.output)")
        let line = try #require(watcher.output.split(separator: "\n").first { $0.contains("\"kind\":\"pause\"") })
        let event = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(event?["tier"] as? String == "tenants")
        #expect((event?["message"] as? String)?.contains("tenants paused") == true)
        await daemon.stop()
        // The daemon closing the connection ends watch as "unreachable".
        #expect(await watcher.wait(timeout: .seconds(10)) == 3)
        #expect(await resumes.wait(timeout: .seconds(10)) == 3)
    }

    @Test("plan sums a large tier up by wave and lists its databases only with --all; the plan hash covers every database either way")
    func planOfLargeTier() async throws {
        let fixture = try await FleetFixture.make(tenants: (1...101).map { "t\($0)" })
        defer { fixture.remove() }
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }
        let summary = try await daemon.json(PlanReport.self, "plan", "r2", "--to", "tenants")
        #expect(summary.databases.isEmpty && summary.databases_omitted == 101)
        // Every database of a wave runs r1's expand and r2's expand and backfill.
        func wave(_ name: String, _ count: Int) -> PlanReport.WavePlan {
            let steps: [(String, Phase)] = [("r1", .expand), ("r2", .expand), ("r2", .backfill)]
            return PlanReport.WavePlan(
                name: name, databases: count, moving: count,
                phases: steps.map { .init(revision: $0.0, phase: $0.1, databases: count, earliest_start: nil) })
        }
        let expected = [wave("canary", 1), wave("rest", 100)]
        #expect(summary.waves == expected, "\(summary.waves)")
        let all = try await daemon.json(PlanReport.self, "plan", "r2", "--to", "tenants", "--all")
        #expect(all.databases.count == 101 && all.databases_omitted == nil && all.waves == expected)
        #expect(all.plan_hash == summary.plan_hash)
        let human = try await daemon.ctl("plan", "r2", "--to", "tenants")
        #expect(human.output.contains("wave rest: 100 databases, 100 to move") && human.output.contains("expand r2 on 100"), "\(human.output)")
        #expect(human.output.contains("101 databases not listed") && !human.output.contains("tenant-t7\n"), "\(human.output)")
        await daemon.stop()
    }
}
