import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's resident memory, from /proc.
private func residentKiB(_ pid: pid_t) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

extension Isolated {
    @Suite("the control socket under a flood (issue #7)", .enabled(if: getuid() == 0, "needs root to connect as another uid"))
    struct SocketFloodTests {
        @Test("2,000 idle connections from one unprivileged uid: its cap holds, root is still served; 10 MiB without a terminator: an error, memory bounded")
        func flood() async throws {
            // Room for 2,000 sockets in this process, droverd (inherits it) and the helper.
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = max(limit.rlim_cur, min(limit.rlim_max, 8192))
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

            let fixture = try await FleetFixture.make(tenants: ["acme"])
            defer { fixture.remove() }
            chmod(fixture.directory, 0o755)
            let daemon = try await RunningDaemon.start(fixture, socketDirectoryMode: 0o755)
            defer { daemon.kill() }
            chmod(daemon.socket, 0o666)

            // nobody opens 2,000 connections and holds them. It reads until only the
            // ones the daemon kept are open: the others got TooManyConnections and EOF.
            let helper = try BackgroundProcess([
                "runuser", "-u", "nobody", "--", "python3", "-c",
                """
                import resource, selectors, socket, sys, time
                resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
                held = []
                for _ in range(2000):
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(sys.argv[1])
                    held.append(s)
                selector = selectors.DefaultSelector()
                for s in held:
                    selector.register(s, selectors.EVENT_READ)
                refused, closed, deadline = 0, 0, time.time() + 30
                while time.time() < deadline and len(held) - closed > 32:
                    for key, _ in selector.select(timeout=0.5):
                        data = key.fileobj.recv(65536)
                        if not data:
                            selector.unregister(key.fileobj)
                            closed += 1
                        elif b"TooManyConnections" in data:
                            refused += 1
                print("refused", refused, "open", len(held) - closed, flush=True)
                time.sleep(30)
                """, daemon.socket,
            ])
            let counted = try await eventually(timeout: .seconds(60)) { helper.output.contains("refused ") }
            #expect(counted, "\(helper.output)")
            #expect(helper.output.hasPrefix("refused 1968 open 32"), "the per-uid cap (32) holds: \(helper.output)")

            // Root (the operator) is served while nobody's connections are held.
            let served = try await daemon.ctl("status")
            #expect(served.status == 0, "\(served.errors)")

            // 10 MiB without a terminator: ProtocolError, and the daemon's memory grows by
            // at most a few times the 1 MiB message bound, not by the 10 MiB sent.
            let before = residentKiB(daemon.process.pid)
            let flood = try daemon.client()
            try? await flood.send(raw: [UInt8](repeating: UInt8(ascii: "a"), count: 10 << 20))
            #expect(try await flood.reply().error == "io.drover.Fleet.ProtocolError")
            let after = residentKiB(daemon.process.pid)
            #expect(after - before < 6 * 1024, "RSS grew from \(before) KiB to \(after) KiB")
            #expect(try await daemon.ctl("status").status == 0)
            helper.signal(SIGKILL)
        }
    }
}
