import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

/// The fixture's manifest with `hooks` added at the top level.
private func withHooks(_ fixture: FleetFixture, _ hooks: String) throws {
    try fixture.editManifest { $0 + "\nhooks:\n" + hooks }
}

@Suite("Hooks (docs/operations.md#hooks)")
struct HookTests {
    @Test("a before-phase hook that fails keeps the phase from starting: failed with its last line, audited; without it, retry runs the phase")
    func failingGate() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        try withHooks(
            fixture,
            """
              - on: before-phase
                tier: preview
                phase: expand
                run: [/bin/sh, -c, "echo checking the backup space; echo \\"no space for the backup of $DROVER_DB\\" >&2; exit 3"]

            """)
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }
        try await daemon.waitFor("preview failed") { $0.database("preview")?.state == .failed }
        let error = try await daemon.json(FleetStatus.self, "status").database("preview")?.error ?? ""
        #expect(error.contains("before-phase hook /bin/sh") && error.contains("exit 3: no space for the backup of preview"), "\(error)")
        #expect(try await fixture.scalar("SELECT to_regclass('docs') IS NULL", in: "preview") == "t", "the expand did not run")
        #expect(try await daemon.audit().contains { $0.hasPrefix("hook|") && $0.contains("exit 3") })
        #expect(try await daemon.json(HistoryReply.self, "history", "preview").entries.contains { $0.outcome == "failed" }, "counted like a failed phase")

        try fixture.editManifest { String($0[..<$0.range(of: "hooks:\n")!.lowerBound]) }
        #expect(try await daemon.ctl("reload").status == 0)
        #expect(try await daemon.ctl("retry", "preview").status == 0)
        try await daemon.waitFor("preview expanded to r2") { $0.database("preview")?.expanded == "r2" }
        await daemon.stop()
    }

    @Test("a before-phase hook that hangs is killed with its process group at its timeout")
    func hangingGate() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let marker = "sleep 61.\(UInt16.random(in: 1000...9999))"
        try withHooks(
            fixture,
            """
              - {on: before-phase, tier: preview, run: [/bin/sh, -c, "echo waiting for the backup; \(marker); echo never"], timeout: 1s}

            """)
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }
        try await daemon.waitFor("preview failed", timeout: .seconds(20)) { $0.database("preview")?.state == .failed }
        let error = try await daemon.json(FleetStatus.self, "status").database("preview")?.error ?? ""
        #expect(error.contains("killed after its timeout") && error.contains("waiting for the backup"), "\(error)")
        #expect(
            try await eventually(timeout: .seconds(10)) { try await Subprocess.run(["pgrep", "-f", marker]).status == 1 },
            "the hook's children are gone with it")
        await daemon.stop()
    }

    @Test("notification hooks get the event as JSON on stdin and DROVER_* in their environment: promote, wave-finished, halt")
    func notifications() async throws {
        let fixture = try await FleetFixture.haltingOnAcme()
        defer { fixture.remove() }
        let received = fixture.directory + "/hooks.jsonl"
        try withHooks(
            fixture,
            """
              - on: promote,wave-finished,halt
                run: [/bin/sh, -c, "cat >> \(received); echo \\"env $DROVER_EVENT $DROVER_TIER ${PGPASSWORD:-none}\\" >> \(received)"]
              - {on: [halt], run: [/bin/false]}

            """)
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }
        try await daemon.waitFor("preview expanded to r3") { $0.database("preview")?.expanded == "r3" }
        #expect(try await daemon.ctl("promote", "r3").status == 0)
        try await daemon.waitFor("production expanded to r3") { $0.database("production")?.expanded == "r3" }
        #expect(try await daemon.ctl("promote", "r3", "--to", "tenants").status == 0)
        try await daemon.waitFor("tenants halted") { $0.tier("tenants")?.state == "halted" }

        func events() -> [[String: String]] {
            let text = (try? String(contentsOfFile: received, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: String]
            }
        }
        #expect(try await eventually(timeout: .seconds(10)) { events().contains { $0["event"] == "halt" } }, "\(events())")
        let all = events()
        #expect(all.contains { $0["event"] == "promote" && $0["tier"] == "production" && $0["revision"] == "r3" }, "\(all)")
        #expect(all.contains { $0["event"] == "promote" && $0["tier"] == "tenants" && $0["revision"] == "r3" }, "\(all)")
        #expect(all.contains { $0["event"] == "wave-finished" && $0["tier"] == "production" }, "\(all)")
        #expect(all.contains { $0["event"] == "halt" && $0["tier"] == "tenants" && $0["message"]?.contains("tenant-acme") == true }, "\(all)")
        let environment = ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix("env ") }
        #expect(environment.contains("env halt tenants none"), "\(environment)")
        #expect(
            try await eventually(timeout: .seconds(10)) { try await daemon.audit().contains { $0.hasPrefix("hook|") && $0.contains("/bin/false") } },
            "a failed notification is audited")
        #expect(try await daemon.json(FleetStatus.self, "status").tier("tenants")?.state == "halted", "and changes nothing else")
        await daemon.stop()
    }
}
