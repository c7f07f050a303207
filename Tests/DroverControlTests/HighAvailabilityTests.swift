import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Issue #8: several droverd processes on one fleet and one PostgreSQL state store.
// Every revision's expand writes one row into `effects`: "exactly once" is a count.

/// A fleet whose state lives in PostgreSQL (`state_cluster`, database `state`),
/// with a short lease so that takeovers happen within a test's patience, tenants at
/// the front of the pipeline (they follow the head), and r3 slow enough that a wave
/// is under way for a while.
private func sharedStateFleet(tenants: [String], r3Sleep: Double, lease: String = "4s", on stateCluster: TestCluster? = nil) async throws -> FleetFixture {
    let stateCluster = if let stateCluster { stateCluster } else { try await TestCluster.shared() }
    let stateDatabase = try await stateCluster.createDatabase("state")
    let slow = [
        "0003_slow.sql": """
        -- drover:revision r3
        -- drover:parent r2
        -- drover:expand
        INSERT INTO effects VALUES ('r3 expand');
        SELECT pg_sleep(\(r3Sleep));
        """
    ]
    let waves = "waves:\n  tenants:\n    - {name: canary, select: {names: [tenant-\(tenants[0])]}}\n    - {name: rest, select: {all: true}, max_parallel: 1}\n"
    let fixture = try await FleetFixture.make(tenants: tenants, waves: waves, extraRevisions: slow)
    let path = fixture.manifestDirectory + "/10-fleet.yaml"
    let yaml = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
        of: "  state: ../state/state.db",
        with: "  state: \"\(stateCluster.conninfo(database: stateDatabase))\"\n  lease: \(lease)\n  pipeline: [tenants, preview, production]")
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return fixture
}

/// `notify`: one fake NOTIFY_SOCKET per instance, to read what each tells systemd.
private func startInstances(_ count: Int, _ fixture: FleetFixture, notify: [NotifySocket] = []) async throws -> [RunningDaemon] {
    var daemons: [RunningDaemon] = []
    for index in 0..<count {
        let environment = index < notify.count ? ["NOTIFY_SOCKET": notify[index].path] : [:]
        daemons.append(
            try await RunningDaemon.start(
                fixture, arguments: ["--metrics-listen", metricsSocket(index, fixture)], environment: environment,
                socket: fixture.directory + "/run/instance-\(index).sock"))
    }
    return daemons
}

/// Each instance's /metrics (`droverd --metrics-listen`): one manifest, one machine.
private func metricsSocket(_ index: Int, _ fixture: FleetFixture) -> String { fixture.directory + "/run/metrics-\(index).sock" }

private func notifySockets(_ count: Int, in fixture: FleetFixture) throws -> [NotifySocket] {
    try (0..<count).map { index in
        let directory = fixture.directory + "/notify-\(index)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try NotifySocket(directory: directory)
    }
}

/// Waits until every daemon in `alive` answers status naming the same leader, one
/// of them; returns it.
private func agreedLeader(_ alive: [RunningDaemon], timeout: Duration = .seconds(40)) async throws -> RunningDaemon {
    let deadline = ContinuousClock.now + timeout
    var last: [String] = []
    while ContinuousClock.now < deadline {
        var pids: [Int?] = []
        for daemon in alive { pids.append((try? await daemon.json(FleetStatus.self, "status"))?.leader?.pid) }
        if let pid = pids.first ?? nil, pids.allSatisfy({ $0 == pid }), let leader = alive.first(where: { Int($0.process.pid) == pid }) {
            return leader
        }
        last = pids.map { $0.map(String.init) ?? "none" }
        try await Task.sleep(for: .milliseconds(200))
    }
    Issue.record("the instances did not agree on a leader among \(alive.map(\.process.pid)): they named \(last)")
    throw CancellationError()
}

private func effects(_ fixture: FleetFixture, schema: String) async throws -> [String] {
    try await fixture.cluster.run("SELECT note FROM \(schema).effects ORDER BY note", database: fixture.databases["shared"]!).rows.compactMap { $0[0] }
}

private func expectEachExpandOnce(_ fixture: FleetFixture, _ tenants: [String], via daemon: RunningDaemon) async throws {
    for tenant in tenants {
        #expect(try await effects(fixture, schema: tenant) == ["r1 expand", "r2 expand", "r3 expand"], "\(tenant): each expand exactly once")
    }
    let history = try await daemon.json(HistoryReply.self, "history")
    let applied = history.entries.filter { $0.outcome == "applied" && $0.revision == "r3" }.map(\.database)
    #expect(applied.sorted() == tenants.map { "tenant-\($0)" }.sorted(), "the shared history names each tenant's r3 once: \(applied)")
}

private func atR3(_ status: FleetStatus, _ tenants: [String]) -> [String] {
    tenants.filter { status.database("tenant-\($0)")?.expanded == "r3" }
}

// One scenario at a time: eight droverd and two clusters at once on two cores
// starve the renewals these tests measure.
extension Isolated {
    @Suite("Several droverd on one PostgreSQL state store (issue #8)", .serialized)
    struct HighAvailabilityTests {
        @Test(
            "three instances: one leads, followers answer status and refuse promote naming it; SIGKILL of the leader mid-wave: another takes over within 30 s and finishes, each phase once"
        )
        func killTheLeader() async throws {
            let tenants = ["acme", "globex", "initech", "umbrella", "hooli", "stark"]
            let fixture = try await sharedStateFleet(tenants: tenants, r3Sleep: 1)
            defer { fixture.remove() }
            let notify = try notifySockets(3, in: fixture)
            let daemons = try await startInstances(3, fixture, notify: notify)
            defer { for daemon in daemons { daemon.kill() } }

            let leader = try await agreedLeader(daemons)
            let followers = daemons.filter { $0.process.pid != leader.process.pid }
            func statusLines(of daemon: RunningDaemon) -> [String] {
                notify[daemons.firstIndex { $0.process.pid == daemon.process.pid }!].lines.filter { $0.hasPrefix("STATUS=") }
            }
            #expect(
                try await eventually(timeout: .seconds(15)) {
                    statusLines(of: leader).last?.hasPrefix("STATUS=leader") == true
                        && followers.allSatisfy {
                            statusLines(of: $0).last?.hasPrefix("STATUS=follower of ") == true
                                && statusLines(of: $0).last?.contains("pid \(leader.process.pid)") == true
                        }
                }, "STATUS= says leader, or follower of the leader's host: \(daemons.map { statusLines(of: $0).last ?? "-" })")
            let status = try await followers[0].json(FleetStatus.self, "status")
            #expect(status.databases.count == tenants.count + 2, "a follower answers status from the shared state")
            try await followers[0].waitFor("all three instances heard from, one of them leading") { status in
                let instances = status.instances ?? []
                return instances.count == 3 && instances.count { $0.role == "leader" } == 1 && instances.count { $0.this } == 1
            }
            let refused = try await followers[1].ctl("promote", "r1", "--to", "production")
            #expect(refused.status == 1, "\(refused.output) \(refused.errors)")
            #expect(
                refused.errors.contains("leader") && refused.errors.contains("pid \(leader.process.pid)"), "the refusal names the leader: \(refused.errors)")

            try await leader.waitFor("the rest wave under way") { status in
                let done = atR3(status, tenants)
                return done.contains("acme") && done.count >= 2 && done.count < tenants.count
            }
            leader.process.signal(SIGKILL)
            let killedAt = ContinuousClock.now
            _ = await leader.process.wait(timeout: .seconds(10))
            let successor = try await agreedLeader(followers)
            let takeover = ContinuousClock.now - killedAt
            print("takeover after SIGKILL of the leader: \(takeover)")
            #expect(takeover < .seconds(30), "a follower leads within the bound")

            try await successor.waitFor("every tenant at r3 under the new leader", timeout: .seconds(90)) { status in
                atR3(status, tenants).count == tenants.count && status.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.state == .waitingRelease }
            }
            try await expectEachExpandOnce(fixture, tenants, via: successor)
            #expect(
                try await eventually(timeout: .seconds(15)) { statusLines(of: successor).last?.hasPrefix("STATUS=leader") == true },
                "the successor tells systemd it leads")
            // Each instance's /metrics: the successor leads, the survivor follows.
            for (index, daemon) in daemons.enumerated() where daemon.process.pid != leader.process.pid {
                let metrics = try await metricSamples(metricsSocket(index, fixture))
                #expect(metrics.value("drover_leader") == (daemon.process.pid == successor.process.pid ? 1 : 0), "instance \(index)'s drover_leader")
                #expect(
                    metrics.value("drover_databases", ["tier": "tenants", "state": "waiting-release"]) == Double(tenants.count),
                    "instance \(index) serves its own view of the fleet")
            }
            let promoted = try await successor.ctl("promote", "r3", "--to", "preview")
            #expect(promoted.status == 0, "the new leader takes changes: \(promoted.errors)")
        }

        @Test("the leader stopped (SIGSTOP) past its lease: another takes over; SIGCONT: the old one notices, starts nothing more, nothing runs twice")
        func stopTheLeader() async throws {
            let tenants = ["acme", "globex", "initech", "umbrella", "hooli"]
            // A longer lease: the successor must keep it while the old leader wakes up,
            // even when the machine is busy.
            let fixture = try await sharedStateFleet(tenants: tenants, r3Sleep: 2, lease: "8s")
            defer { fixture.remove() }
            let daemons = try await startInstances(3, fixture)
            defer { for daemon in daemons { daemon.kill() } }
            let leader = try await agreedLeader(daemons)
            let others = daemons.filter { $0.process.pid != leader.process.pid }

            try await leader.waitFor("the rest wave under way, a phase running") { status in
                let done = atR3(status, tenants)
                return done.contains("acme") && done.count < tenants.count && status.databases.contains { $0.state == .expanding }
            }
            leader.process.signal(SIGSTOP)
            let successor = try await agreedLeader(others)
            // Let the new leader move on while the old one sleeps with a phase open.
            try await successor.waitFor("the new leader applies more", timeout: .seconds(60)) { atR3($0, tenants).count >= 3 }
            let beforeResume = leader.process.output.count
            leader.process.signal(SIGCONT)

            do {
                try await leader.waitFor("the old leader follows") { status in
                    status.leader.map { $0.pid == Int(successor.process.pid) } == true
                }
            } catch {
                Issue.record("the old leader's log since SIGCONT:\n\(leader.process.output.dropFirst(beforeResume))")
                throw error
            }
            try await successor.waitFor("every tenant at r3", timeout: .seconds(120)) { status in
                atR3(status, tenants).count == tenants.count && status.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.state == .waitingRelease }
            }
            let resumedLog = String(leader.process.output.dropFirst(beforeResume))
            #expect(resumedLog.contains("lost the lease"), "the old leader says it stepped down: \(resumedLog)")
            let started = resumedLog.split(separator: "\n").filter { $0.contains("starting r") }
            #expect(started.isEmpty, "the old leader started nothing after it woke up: \(started)")
            try await expectEachExpandOnce(fixture, tenants, via: successor)
        }

        @Test("the state database restarted with -m immediate: the instances reconnect, one leads again and takes changes")
        func stateDatabaseRestart() async throws {
            let stateCluster = try await TestCluster.dedicated()
            defer { stateCluster.destroy() }
            let tenants = ["acme", "globex"]
            let fixture = try await sharedStateFleet(tenants: tenants, r3Sleep: 0, on: stateCluster)
            defer { fixture.remove() }
            let daemons = try await startInstances(2, fixture)
            defer { for daemon in daemons { daemon.kill() } }
            let first = try await agreedLeader(daemons)
            try await first.waitFor("tenants at r3") { atR3($0, tenants).count == tenants.count }

            try await stateCluster.stopImmediately()
            try await daemons[0].waitFor("the state database missed", timeout: .seconds(30)) { $0.state_store_error != nil || $0.leader == nil }
            let during = try await daemons[1].ctl("status")
            #expect(during.status == 0, "status is answered while the state database is down: \(during.errors)")
            try await stateCluster.startAfterCrash()

            let leader = try await agreedLeader(daemons, timeout: .seconds(60))
            try await leader.waitFor("the state store writable again") { $0.state_store_error == nil }
            let promoted = try await leader.ctl("promote", "r3", "--to", "preview")
            #expect(promoted.status == 0, "the leader takes changes after the restart: \(promoted.output) \(promoted.errors)")
            try await leader.waitFor("preview at r3", timeout: .seconds(60)) { $0.database("preview")?.expanded == "r3" }
            let other = daemons.first { $0.process.pid != leader.process.pid }!
            try await other.waitFor("the follower sees the promotion") { $0.tiers.first { $0.name == "preview" }?.target == "r3" }
        }
    }
}
