import DroverCore
import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

/// Python with PyPI's `prometheus_client`, in the virtualenv scripts/test makes: its
/// text parser reads what droverd serves, as Prometheus' own client library does.
private func prometheusPython() async throws -> String {
    let root = AlembicProjectFixture.repositoryRoot
    let python = root + "/.venv-test/bin/python"
    if (try? await Subprocess.run([python, "-c", "import prometheus_client"]).status) != 0 {
        _ = try await Subprocess.run(["python3", "-m", "venv", root + "/.venv-test"])
        let install = try await Subprocess.run([root + "/.venv-test/bin/pip", "install", "--quiet", "--disable-pip-version-check", "prometheus_client"])
        try #require(install.status == 0, "cannot install prometheus_client: \(install.errors)")
    }
    return python
}

/// Fetches /metrics over the Unix socket and prints each sample the parser read as
/// one JSON line: [family, type, sample name, labels, value].
private let scrape = #"""
    import http.client, json, socket, sys
    from prometheus_client.parser import text_string_to_metric_families
    class Unix(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(sys.argv[1])
    connection = Unix("localhost")
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    body = response.read().decode()
    if len(sys.argv) > 2:
        open(sys.argv[2], "w").write(body)
    assert response.status == 200, response.status
    assert response.getheader("Content-Type").startswith("text/plain; version=0.0.4"), response.getheader("Content-Type")
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            print(json.dumps([family.name, family.type, sample.name, sample.labels, sample.value]))
    """#

/// Raw requests over the socket, each answered with its status line.
private let rawRequests = #"""
    import socket, sys
    def ask(data):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        print(answer.split(b"\r\n")[0].decode())
    ask(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
    ask(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    ask(b"this is not http\r\n\r\n")
    ask(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    """#

/// 32 connections that send nothing: the next is refused at once (503); the idle
/// ones are closed by droverd after its idle timeout (10 s), and then /metrics answers.
private let flood = #"""
    import socket, sys, time
    def connect():
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(30)
        s.connect(sys.argv[1])
        return s
    def status(s):
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        return answer.split(b"\r\n")[0].decode()
    idle = [connect() for _ in range(32)]
    time.sleep(0.5)
    print("33rd:", status(connect()))
    started = time.monotonic()
    closed = sum(1 for s in idle if s.recv(1) == b"")
    print("idle closed:", closed, "after", round(time.monotonic() - started))
    print("then:", status(connect()))
    """#

struct MetricSample: Sendable {
    var family: String
    var name: String
    var labels: [String: String]
    var value: Double
}

/// `keep`: where to write the exposition as served.
func metricSamples(_ socket: String, keep: String? = nil) async throws -> [MetricSample] {
    let result = try await Subprocess.run([try await prometheusPython(), "-c", scrape, socket] + (keep.map { [$0] } ?? []))
    try #require(result.status == 0, "\(result.errors)")
    return result.output.split(separator: "\n").compactMap { line in
        guard let row = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any], row.count == 5 else { return nil }
        return MetricSample(
            family: row[0] as? String ?? "", name: row[2] as? String ?? "", labels: row[3] as? [String: String] ?? [:],
            value: (row[4] as? NSNumber)?.doubleValue ?? .nan)
    }
}

extension [MetricSample] {
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        first { sample in sample.name == name && sample.labels == labels }?.value
    }
}

/// The fixture's manifest serving metrics on a socket in its directory; returns the socket.
private func serveMetrics(_ fixture: FleetFixture, perDatabase: Bool = false) throws -> String {
    let socket = fixture.directory + "/run/metrics.sock"
    try fixture.editManifest {
        $0.replacingOccurrences(
            of: "  socket: ../run/control.sock\n",
            with: "  socket: ../run/control.sock\n  metrics: {listen: \(socket)\(perDatabase ? ", per_database: true" : "")}\n")
    }
    return socket
}

@Suite("Prometheus metrics (fleet.metrics)")
struct MetricsTests {
    @Test(
        "after a rollout that halts: prometheus_client parses /metrics, and its states, halt, drift, release wait and phase counts agree with status, watch and STATUS="
    )
    func rolloutWithHalt() async throws {
        let fixture = try await FleetFixture.haltingOnAcme()
        defer { fixture.remove() }
        let socket = try serveMetrics(fixture)
        // Production drifts from preview (a table made by hand), and the tenants' release
        // waits for an application that never connects.
        _ = try await fixture.cluster.run("CREATE TABLE hand_made (id int)", database: fixture.databases["production"]!)
        try fixture.editManifest { $0 + "\nrelease_when:\n  tenants: {clients: \"slides/{revision}\"}\n" }
        let notify = try NotifySocket(directory: fixture.directory)
        let daemon = try await RunningDaemon.start(fixture, environment: ["NOTIFY_SOCKET": notify.path])
        defer { daemon.kill() }
        let watcher = try BackgroundProcess([try Subprocess.builtProduct("droverctl"), "watch", "--json", "--socket", daemon.socket])
        defer { watcher.signal(SIGKILL) }

        try await daemon.waitFor("preview expanded to r3") { $0.database("preview")?.expanded == "r3" }
        #expect(try await daemon.ctl("promote", "r3").status == 0)
        try await daemon.waitFor("production expanded to r3") { $0.database("production")?.expanded == "r3" }
        #expect(try await daemon.ctl("promote", "r3", "--to", "tenants").status == 0)
        try await daemon.waitFor("tenants halted") { $0.tier("tenants")?.state == "halted" }
        try await daemon.waitFor("production's drift shown") { $0.database("production")?.drift != nil }
        try await daemon.waitFor("the tenants' release waits") { $0.tier("tenants")?.release_waiting_on != nil }

        let exposition = fixture.directory + "/metrics.txt"
        let metrics = try await metricSamples(socket, keep: exposition)
        // Prometheus' own linter, where Debian's prometheus package installed it (scripts/test does).
        if (try? await Subprocess.run(["sh", "-c", "command -v promtool"]))?.status == 0 {
            let lint = try await Subprocess.run(["sh", "-c", "promtool check metrics < \"$0\"", exposition])
            #expect(lint.status == 0 && lint.output.isEmpty && lint.errors.isEmpty, "promtool: \(lint.output)\(lint.errors)")
        }
        let status = try await daemon.json(FleetStatus.self, "status")
        #expect(metrics.value("drover_build_info", ["version": DroverVersion.current]) == 1)
        #expect(metrics.value("drover_leader") == 1)
        for tier in ["preview", "production", "tenants"] {
            for word in DatabaseStateWord.allCases {
                let inStatus = status.databases.filter { $0.tier == tier && $0.state == word }.count
                #expect(metrics.value("drover_databases", ["tier": tier, "state": word.rawValue]) == Double(inStatus), "\(tier) \(word)")
            }
            let halted = status.tier(tier)?.state == "halted"
            #expect(metrics.value("drover_tier_halted", ["tier": tier]) == (halted ? 1 : 0), "\(tier)")
        }
        #expect(metrics.value("drover_tier_halted", ["tier": "tenants"]) == 1)
        // droverd filters by state: only the failed tenant comes back.
        let failed = try await daemon.json(FleetStatus.self, "status", "--tier", "tenants", "--state", "failed")
        #expect(failed.databases.map(\.name) == ["tenant-acme"] && failed.tiers.map(\.name) == ["tenants"])
        #expect(try await daemon.json(FleetStatus.self, "status", "--state", "current").databases.allSatisfy { $0.state == .current })
        let bogus = try await daemon.ctl("status", "--state", "broken")
        #expect(bogus.status == 1 && bogus.errors.contains("unknown state broken (current, pending"), "\(bogus.errors)")
        #expect(metrics.value("drover_phases_total", ["tier": "tenants", "phase": "expand", "outcome": "failed"]) == 1)
        #expect((metrics.value("drover_phases_total", ["tier": "preview", "phase": "expand", "outcome": "applied"]) ?? 0) >= 3)
        #expect(metrics.value("drover_backfill_rows_total", ["tier": "preview"]) == 200)
        let expands = metrics.value("drover_phase_duration_seconds_count", ["tier": "preview", "phase": "expand"])
        #expect(expands == metrics.value("drover_phases_total", ["tier": "preview", "phase": "expand", "outcome": "applied"]))
        #expect(metrics.value("drover_phase_duration_seconds_bucket", ["tier": "preview", "phase": "expand", "le": "+Inf"]) == expands)
        #expect(!metrics.contains { $0.labels["database"] != nil }, "no database label unless per_database")
        #expect(watcher.output.contains("\"kind\":\"halt\""), "watch saw the halt: \(watcher.output.suffix(2000))")

        // Drift: the same database everywhere.
        let drifted = status.databases.filter { $0.drift != nil }.map(\.name)
        #expect(drifted == ["production"], "\(drifted)")
        #expect(status.database("production")?.drift?.contains("hand_made") == true, "\(status.database("production")?.drift ?? "-")")
        #expect(metrics.value("drover_drifted_databases") == 1)
        let driftEvent = watcher.output.split(separator: "\n").first { $0.contains("\"kind\":\"drift\"") }
        #expect(driftEvent?.contains("\"database\":\"production\"") == true, "watch: \(watcher.output.suffix(2000))")
        // What release_when waits on.
        let waiting = try #require(status.tier("tenants")?.release_waiting_on)
        #expect(metrics.value("drover_release_waiting", ["tier": "tenants"]) == 1)
        #expect(metrics.value("drover_release_waiting", ["tier": "production"]) == 0)
        #expect(watcher.output.contains("\"kind\":\"release-waiting\""), "watch: \(watcher.output.suffix(2000))")
        let summary = { notify.lines.last { $0.hasPrefix("STATUS=") } ?? "-" }
        #expect(
            try await eventually(timeout: .seconds(10)) {
                let line = summary()
                return line.contains("at r3 halted") && line.contains("1 drifted") && line.contains("release_when waits: \(waiting)")
            },
            "systemd is told: \(summary())")
        await daemon.stop()
    }

    @Test("bad requests get 404, 405 and 400 and the server keeps serving; per_database adds one series per database")
    func badRequests() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let socket = try serveMetrics(fixture, perDatabase: true)
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }
        try await daemon.waitFor("preview expanded to r2") { $0.database("preview")?.expanded == "r2" }
        let raw = try await Subprocess.run([try await prometheusPython(), "-c", rawRequests, socket])
        #expect(raw.status == 0, "\(raw.errors)")
        #expect(
            raw.output.split(separator: "\n") == ["HTTP/1.1 404 Not Found", "HTTP/1.1 405 Method Not Allowed", "HTTP/1.1 400 Bad Request", "HTTP/1.1 200 OK"],
            "\(raw.output)")
        let metrics = try await metricSamples(socket)
        let status = try await daemon.json(FleetStatus.self, "status")
        for row in status.databases {
            #expect(metrics.value("drover_database_state", ["database": row.name, "tier": row.tier, "state": row.state.rawValue]) == 1, "\(row.name)")
        }
        #expect(try await daemon.ctl("status").status == 0, "the control socket is unaffected")
        await daemon.stop()
    }

    @Test("32 idle connections: the next gets 503 at once, the control socket answers meanwhile, the idle ones are closed after 10 s")
    func flooding() async throws {
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let socket = try serveMetrics(fixture)
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }
        let flooding = try BackgroundProcess([try await prometheusPython(), "-c", flood, socket])
        defer { flooding.signal(SIGKILL) }
        #expect(try await eventually(timeout: .seconds(10)) { flooding.output.contains("33rd:") }, "\(flooding.output)")
        #expect(flooding.output.contains("33rd: HTTP/1.1 503 Service Unavailable"), "\(flooding.output)")
        #expect(try await daemon.ctl("status").status == 0, "the control socket answers while the metrics connections are full")
        #expect(await flooding.wait(timeout: .seconds(40)) == 0, "\(flooding.output)")
        #expect(flooding.output.contains("idle closed: 32"), "\(flooding.output)")
        #expect(flooding.output.contains("then: HTTP/1.1 200 OK"), "\(flooding.output)")
        await daemon.stop()
    }
}
