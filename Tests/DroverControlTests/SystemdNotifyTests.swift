import DroverDaemon
import DroverProtocol
import DroverTestSupport
import Foundation
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fake NOTIFY_SOCKET: the datagram socket systemd would listen on, collecting
/// what droverd sends (one message per datagram) on a thread of its own.
final class NotifySocket: Sendable {
    let path: String
    private let descriptor: Int32
    private let received = Mutex<[(at: ContinuousClock.Instant, message: String)]>([])

    init(directory: String) throws {
        let path = directory + "/notify.sock"
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        self.path = path
        self.descriptor = descriptor
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0, "cannot bind \(path)")
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { return }
                let message = String(decoding: buffer[..<count], as: UTF8.self)
                received.withLock { $0.append((.now, message)) }
            }
        }
    }

    deinit {
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
    }

    var messages: [String] { received.withLock { $0.map(\.message) } }

    /// Every `key=value` line received, in order.
    var lines: [String] { messages.flatMap { $0.split(separator: "\n").map(String.init) } }

    func count(_ line: String) -> Int { lines.count { $0 == line } }
}

@Suite("droverd under systemd's notify protocol")
struct SystemdNotifyTests {
    @Test("READY only once the socket answers; STATUS; RELOADING with MONOTONIC_USEC then READY around SIGHUP; STOPPING at SIGTERM")
    func lifecycle() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let notify = try NotifySocket(directory: fixture.directory)
        let process = try BackgroundProcess(
            [try Subprocess.builtProduct("droverd"), "--manifest", fixture.manifestDirectory, "--poll-interval", "200ms"],
            environment: ["NOTIFY_SOCKET": notify.path])
        #expect(try await eventually { notify.lines.contains("READY=1") }, "\(process.output)")
        // When READY=1 arrived the control socket was already answering.
        let client = try VarlinkClient(path: fixture.socketPath, receiveTimeout: .seconds(10))
        #expect(try await offThePool { try client.call(FleetMethod.status.qualifiedName, FleetParameters.Status()) }.error == nil)
        #expect(notify.lines.contains { $0.hasPrefix("STATUS=") })
        #expect(try await eventually { notify.lines.contains { $0.hasPrefix("STATUS=preview 1/1 at r2") } }, "\(notify.lines)")

        process.signal(SIGHUP)
        #expect(try await eventually { notify.count("READY=1") == 2 }, "\(notify.lines)")
        let lines = notify.lines
        let reloading = try #require(lines.firstIndex(of: "RELOADING=1"))
        #expect(lines[reloading + 1].hasPrefix("MONOTONIC_USEC=") && UInt64(lines[reloading + 1].dropFirst("MONOTONIC_USEC=".count)) != nil)
        #expect(lines.lastIndex(of: "READY=1")! > reloading)

        process.signal(SIGTERM)
        #expect(await process.wait(timeout: .seconds(20)) == 0)
        let stopping = try #require(notify.lines.firstIndex(of: "STOPPING=1"), "\(notify.lines)")
        #expect(notify.lines[stopping + 1].hasPrefix("EXTEND_TIMEOUT_USEC="))
    }

    @Test("a broken manifest: no READY, exit 1 with every error")
    func brokenManifest() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        try "databases:\n  - {name: preview, tier: preview, windw: always}\n".write(
            toFile: fixture.manifestDirectory + "/20-broken.yaml", atomically: true, encoding: .utf8)
        let notify = try NotifySocket(directory: fixture.directory)
        let process = try BackgroundProcess(
            [try Subprocess.builtProduct("droverd"), "--manifest", fixture.manifestDirectory], environment: ["NOTIFY_SOCKET": notify.path])
        #expect(await process.wait(timeout: .seconds(20)) == 1)
        #expect(process.output.contains("unknown key 'windw'"))
        #expect(!notify.lines.contains("READY=1"))
    }

    @Test("WATCHDOG=1 at half the interval while the fleet loop goes round, and no more once it stalls")
    func watchdog() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let notify = try NotifySocket(directory: fixture.directory)
        let started = ContinuousClock.now
        let process = try BackgroundProcess(
            [try Subprocess.builtProduct("droverd"), "--manifest", fixture.manifestDirectory, "--poll-interval", "200ms"],
            environment: [
                "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000",
                "DROVER_FAILPOINTS": "scheduler-loop=stall-after-3s",
            ])
        defer { process.signal(SIGKILL) }
        #expect(try await eventually { notify.count("WATCHDOG=1") >= 2 }, "\(notify.lines)\n\(process.output)")
        // The loop stalls for good 3 s after start; one watchdog interval (2 s) later
        // the pings stop and the reason is logged. (A slow round on a loaded machine
        // may pause them earlier; only what happens after the stall counts.)
        try await Task.sleep(until: started + .seconds(6.5), clock: .continuous)
        #expect(try await eventually(timeout: .seconds(20)) { process.output.contains("no more watchdog pings") }, "\(process.output)")
        let afterStall = notify.count("WATCHDOG=1")
        try await Task.sleep(for: .seconds(3))
        #expect(notify.count("WATCHDOG=1") == afterStall, "pings went on after the stall")
    }

    @Test("journal fields: message, priority, metadata keys as DROVER_ fields in journald's alphabet")
    func journalFields() {
        let fields = JournalFields.encode(
            level: .warning, message: "phase failed", metadata: ["db": "tenant-acme", "revision": "3f2a", "weird-key.9": "x"], label: "droverd")
        #expect(fields.contains("MESSAGE=phase failed") && fields.contains("PRIORITY=4"))
        #expect(fields.contains("DROVER_DB=tenant-acme") && fields.contains("DROVER_REVISION=3f2a") && fields.contains("DROVER_WEIRD_KEY_9=x"))
        #expect(JournalFields.priority(.critical) == 2 && JournalFields.priority(.debug) == 7 && JournalFields.priority(.notice) == 5)
        #expect(JournalFields.fieldName(String(repeating: "k", count: 100)).count == 64)
        #expect(!JournalLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "0:0"]))
    }
}
