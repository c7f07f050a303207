import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A socket file left behind by a process that is gone.
private func leaveStaleSocket(at path: String) async throws {
    let result = try await Subprocess.run(["python3", "-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path])
    try #require(result.status == 0 && FileManager.default.fileExists(atPath: path), "\(result.errors)")
}

@Suite("where droverd listens")
struct SocketTests {
    @Test("the socket file is 0660 in a 0750 directory; a stale one is replaced, a live one is not, and it is removed at exit")
    func socketFile() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        // The daemon creates the missing directory 0750 and the socket 0660.
        let first = try await RunningDaemon.start(fixture)
        var status = stat()
        #expect(stat(fixture.socketPath, &status) == 0 && status.st_mode & 0o777 == 0o660)
        #expect(stat(fixture.directory + "/run", &status) == 0 && status.st_mode & 0o777 == 0o750)
        await first.stop()
        #expect(!FileManager.default.fileExists(atPath: fixture.socketPath), "removed at a clean exit: \(first.process.output)")

        try await leaveStaleSocket(at: fixture.socketPath)
        let second = try await RunningDaemon.start(fixture)
        #expect(second.process.output.contains("replacing the stale control socket"), "\(second.process.output)")

        // Another fleet's daemon pointed at the live socket refuses to start.
        let other = try await FleetFixture.make(tenants: ["acme"])
        defer { other.remove() }
        let intruder = try BackgroundProcess([try Subprocess.builtProduct("droverd"), "--manifest", other.manifestDirectory, "--socket", fixture.socketPath])
        #expect(await intruder.wait(timeout: .seconds(20)) == 1)
        #expect(intruder.output.contains("another droverd is listening on \(fixture.socketPath)"), "\(intruder.output)")
        #expect(try await second.ctl("status").status == 0, "the first daemon still serves")
        await second.stop()
    }

    @Test("socket activation: droverd serves the socket systemd-socket-activate passes and leaves it in place")
    func socketActivation() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let path = fixture.directory + "/activated.sock"
        let activator = try BackgroundProcess([
            "systemd-socket-activate", "-l", path, try Subprocess.builtProduct("droverd"),
            "--manifest", fixture.manifestDirectory, "--poll-interval", "200ms",
        ])
        #expect(try await eventually { FileManager.default.fileExists(atPath: path) })
        // The first connection starts droverd, which accepts it once it is up.
        let result = try await Subprocess.run([try Subprocess.builtProduct("droverctl"), "status", "--json", "--socket", path])
        #expect(result.status == 0, "\(result.errors)\n\(activator.output)")
        #expect(activator.output.contains("control socket listening on fd 3 from systemd"), "\(activator.output)")
        #expect(!FileManager.default.fileExists(atPath: fixture.socketPath), "the manifest's path is not bound")
        activator.signal(SIGTERM)
        #expect(await activator.wait(timeout: .seconds(20)) == 0)
        #expect(FileManager.default.fileExists(atPath: path), "a socket from systemd is never unlinked")
    }
}
