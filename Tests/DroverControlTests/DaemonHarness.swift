import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real droverd process on a fixture fleet, reachable on the fixture's socket,
/// and droverctl runs against it.
struct RunningDaemon {
    let fixture: FleetFixture
    let process: BackgroundProcess
    let socket: String

    /// `socket`: another than the manifest's, for several daemons on one fleet.
    static func start(
        _ fixture: FleetFixture, arguments: [String] = [], environment: [String: String] = [:], socketDirectoryMode: mode_t? = nil,
        socket: String? = nil
    ) async throws -> RunningDaemon {
        if let socketDirectoryMode {
            // An administrator's choice of who may reach the socket at all.
            try FileManager.default.createDirectory(atPath: fixture.directory + "/run", withIntermediateDirectories: true)
            chmod(fixture.directory + "/run", socketDirectoryMode)
        }
        let process = try BackgroundProcess(
            [
                try Subprocess.builtProduct("droverd"), "--manifest", fixture.manifestDirectory,
                "--poll-interval", "200ms", "--shutdown-grace", "2s",
            ] + (socket.map { ["--socket", $0] } ?? []) + arguments,
            environment: environment)
        let daemon = RunningDaemon(fixture: fixture, process: process, socket: socket ?? fixture.socketPath)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            // Listening, and past start-up: its signal handlers are in place (a
            // SIGTERM before that ends the process without cleanup, as any daemon).
            if (try? VarlinkClient(path: daemon.socket)) != nil && process.output.contains("control socket listening") { return daemon }
            if await process.wait(timeout: .milliseconds(1)) != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("droverd did not listen on \(daemon.socket): \(process.output)")
        throw CancellationError()
    }

    /// droverctl with this daemon's socket.
    func ctl(_ arguments: String..., environment: [String: String] = ["NO_COLOR": "1"]) async throws -> Subprocess.Result {
        try await ctl(arguments, environment: environment)
    }

    func ctl(_ arguments: [String], environment: [String: String] = ["NO_COLOR": "1"]) async throws -> Subprocess.Result {
        try await Subprocess.run([try Subprocess.builtProduct("droverctl")] + arguments + ["--socket", socket], environment: environment)
    }

    /// `ctl(..., "--json")` decoded.
    func json<T: Decodable>(_ type: T.Type, _ arguments: String...) async throws -> T {
        let result = try await Subprocess.run([try Subprocess.builtProduct("droverctl")] + arguments + ["--socket", socket, "--json"])
        guard result.status == 0 else { throw HarnessError(description: "droverctl \(arguments) exited \(result.status): \(result.errors)") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(result.output.utf8))
    }

    func client() throws -> VarlinkClient {
        try VarlinkClient(path: socket, receiveTimeout: .seconds(20))
    }

    /// Polls `status` until `condition` holds.
    func waitFor(_ what: String, timeout: Duration = .seconds(40), _ condition: (FleetStatus) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        var last: FleetStatus?
        while ContinuousClock.now < deadline {
            if let status = try? await json(FleetStatus.self, "status") {
                if condition(status) { return }
                last = status
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record(
            "timed out waiting for \(what); last status: \(String(describing: last?.databases.map { "\($0.name)=\($0.state.rawValue)/\($0.expanded ?? "-")/\($0.contracted ?? "-")" }))"
        )
        throw CancellationError()
    }

    /// Rows of the audit log, read from the state file with Python's sqlite3 (the
    /// daemon holds the store's lock; SQLite readers do not need it).
    func audit() async throws -> [String] {
        let script =
            "import sqlite3,sys\nfor r in sqlite3.connect(sys.argv[1]).execute('SELECT action, parameters, result, uid, pid FROM audit ORDER BY rowid'): print('|'.join(map(str, r)))"
        let result = try await Subprocess.run(["python3", "-c", script, fixture.statePath])
        return result.output.split(separator: "\n").map(String.init)
    }

    /// For `defer`: a test that ends, passes or not, leaves no daemon behind (an
    /// unstructured task to stop it may never run before the test process exits).
    func kill() { process.signal(SIGKILL) }

    func stop() async {
        process.signal(SIGTERM)
        if await process.wait(timeout: .seconds(20)) == nil {
            Issue.record("droverd did not exit within 20 s of SIGTERM:\n\(process.output)")
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
}

/// The blocking client's calls, off the cooperative pool.
extension VarlinkClient {
    func reply() async throws -> VarlinkReply { try await offThePool { try self.next() } }
    func send(raw bytes: [UInt8]) async throws { try await offThePool { try self.write(bytes) } }
    func request<P: Encodable & Sendable>(_ method: String, _ parameters: P) async throws -> VarlinkReply {
        try await offThePool { try self.call(method, parameters) }
    }
}

extension VarlinkReply {
    var message: String? { parameters?["message"]?.string }
}
