import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A system group for the operators, created once (tests run as root in CI).
private func operatorsGroup() async throws -> (name: String, gid: UInt32) {
    let name = "drovertest"
    _ = try await Subprocess.run(["groupadd", "-f", "--system", name])
    let group = try #require(getgrnam(name), "groupadd \(name) failed")
    return (name, group.pointee.gr_gid)
}

@Suite("roles from peer credentials", .enabled(if: getuid() == 0, "needs root to run droverctl as another uid"))
struct AuthorizationTests {
    @Test("an unprivileged uid reads but cannot change; the operators group can; nothing in a message claims an identity")
    func roles() async throws {
        let group = try await operatorsGroup()
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let manifest = fixture.manifestDirectory + "/10-fleet.yaml"
        let text = try String(contentsOfFile: manifest, encoding: .utf8).replacingOccurrences(
            of: "  name: test\n", with: "  name: test\n  operators_group: \(group.name)\n")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)
        chmod(fixture.directory, 0o755)
        let daemon = try await RunningDaemon.start(fixture, socketDirectoryMode: 0o755)
        defer { daemon.kill() }
        let droverctl = try Subprocess.builtProduct("droverctl")
        func asNobody(group: String? = nil, _ arguments: String...) async throws -> Subprocess.Result {
            try await Subprocess.run(
                ["runuser", "-u", "nobody"] + (group.map { ["-g", $0] } ?? []) + ["--", droverctl] + arguments + ["--socket", daemon.socket])
        }

        // The socket belongs to the operators group: others cannot even open it.
        var status = stat()
        #expect(stat(daemon.socket, &status) == 0 && status.st_gid == group.gid && status.st_mode & 0o777 == 0o660)
        let outside = try await asNobody("status")
        #expect(outside.status == 3 && outside.errors.contains("Permission denied") && outside.errors.contains("operators group"), "\(outside.errors)")

        // An administrator opens reading to everyone.
        chmod(daemon.socket, 0o666)
        #expect(try await asNobody("status").status == 0)
        #expect(try await asNobody("history").status == 0)
        let refused = try await asNobody("pause", "--tier", "tenants")
        #expect(refused.status == 1 && refused.errors.contains("is neither root nor in group \(group.name)"), "\(refused.errors)")
        #expect(try await daemon.json(FleetStatus.self, "status").tier("tenants")?.state != "paused")

        // A forged identity in the message changes nothing.
        let forged = try await Subprocess.run([
            "runuser", "-u", "nobody", "--", "python3", "-c",
            """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            s.sendall(b'{"method":"io.drover.Fleet.Pause","parameters":{"tier":"tenants"},"uid":0,"user":"root","peer":{"uid":0}}\\0')
            print(s.recv(65536).rstrip(b'\\0').decode())
            """, daemon.socket,
        ])
        #expect(forged.output.contains("io.drover.Fleet.NotAllowed"), "\(forged.output)\(forged.errors)")

        // The same uid with the operators group as its group may change things.
        let allowed = try await asNobody(group: group.name, "pause", "--tier", "tenants")
        #expect(allowed.status == 0 && allowed.output.contains("tenants paused"), "\(allowed.errors)")
        #expect(try await daemon.json(FleetStatus.self, "status").tier("tenants")?.state == "paused")

        // Refusals and the change are audited under nobody's uid.
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        let audit = try await daemon.audit()
        #expect(audit.filter { $0.hasPrefix("pause|") && $0.contains("refused: pause changes the fleet") && $0.contains("|\(nobody)|") }.count == 2, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("pause|") && $0.contains("|tenants paused|\(nobody)|") }, "\(audit)")
        // A manual phase names the operator in history (tenants have no target yet,
        // so nothing else touches tenant-acme).
        let stamp = try await asNobody(group: group.name, "stamp", "tenant-acme", "r1", "--phase", "expand", "--reason", "made by hand")
        #expect(stamp.status == 0, "\(stamp.errors)")
        let history = try await daemon.json(HistoryReply.self, "history", "tenant-acme")
        #expect(history.entries.map(\.actor) == ["nobody (uid \(nobody))"], "\(history.entries)")
    }
}
