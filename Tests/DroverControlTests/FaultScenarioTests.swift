import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Faults of issue #7 that need a real droverd process and something around it to
// break: the database server, the wall clock, the disk under the state store.
// Every revision's expand writes one row into `effects`: "exactly once" is a count.

/// Moves a fixture's tenants to the front of the pipeline: they follow the head
/// without a promotion.
private func tenantsFirst(_ fixture: FleetFixture) throws {
    try fixture.editManifest {
        $0.replacingOccurrences(of: "  state: ../state/state.db", with: "  state: ../state/state.db\n  pipeline: [tenants, preview, production]")
    }
}

private func effects(_ fixture: FleetFixture, schema: String? = nil, in role: String) async throws -> [String] {
    let table = schema.map { "\($0).effects" } ?? "effects"
    return try await fixture.cluster.run("SELECT note FROM \(table) ORDER BY note", database: fixture.databases[role]!).rows.compactMap { $0[0] }
}

extension Isolated {
    @Suite("droverd when its database server crashes (issue #7)")
    struct ServerCrashTests {
        @Test(
            "the server stopped with -m immediate in the middle of a wave: unreachable meanwhile, reconnects after recovery, every tenant at target exactly once"
        )
        func serverCrashMidWave() async throws {
            let cluster = try await TestCluster.dedicated()
            defer { cluster.destroy() }
            let tenants = ["acme", "globex", "initech", "umbrella", "hooli"]
            let slow = [
                "0003_slow.sql": """
                -- drover:revision r3
                -- drover:parent r2
                -- drover:expand
                INSERT INTO effects VALUES ('r3 expand');
                SELECT pg_sleep(1);
                """
            ]
            let waves = "waves:\n  tenants:\n    - {name: canary, select: {names: [tenant-acme]}}\n    - {name: rest, select: {all: true}, max_parallel: 1}\n"
            let fixture = try await FleetFixture.make(tenants: tenants, waves: waves, extraRevisions: slow, on: cluster)
            defer { fixture.remove() }
            try tenantsFirst(fixture)
            let daemon = try await RunningDaemon.start(fixture)
            defer { daemon.kill() }

            func atR3(_ status: FleetStatus) -> [String] { tenants.filter { status.database("tenant-\($0)")?.expanded == "r3" } }
            try await daemon.waitFor("the rest wave under way") { status in
                let done = atR3(status)
                return done.contains("acme") && done.count >= 2 && done.count < tenants.count
            }
            try await cluster.stopImmediately()
            try await daemon.waitFor("tenants unreachable while the server is down") { status in
                status.databases.contains { $0.tier == "tenants" && $0.state == .unreachable }
            }
            let down = try await daemon.json(FleetStatus.self, "status")
            #expect(
                down.tiers.first { $0.name == "tenants" }?.state != "halted",
                "a server that is down is not a failure of the revision: \(down.databases.compactMap(\.error))")
            #expect(down.databases.allSatisfy { $0.state != .failed }, "\(down.databases.map { "\($0.name)=\($0.state.rawValue) \($0.error ?? "")" })")
            let unreachable = down.databases.filter { $0.state == .unreachable }
            #expect(unreachable.allSatisfy { $0.error?.contains("connection") == true }, "status says why: \(unreachable.map { $0.error ?? "-" })")

            try await cluster.startAfterCrash()
            try await daemon.waitFor("every tenant at r3 after recovery", timeout: .seconds(90)) { status in
                // r2's contract waits for a release: expanded is the whole target here.
                atR3(status).count == tenants.count && status.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.state == .waitingRelease }
            }
            for tenant in tenants {
                #expect(
                    try await effects(fixture, schema: tenant, in: "shared") == ["r1 expand", "r2 expand", "r3 expand"], "\(tenant): each expand exactly once")
            }
            let history = try await daemon.json(HistoryReply.self, "history")
            let applied = history.entries.filter { $0.outcome == "applied" && $0.revision == "r3" }.map(\.database)
            #expect(applied.sorted() == tenants.map { "tenant-\($0)" }.sorted(), "history names each tenant's r3 once: \(applied)")
        }
    }
}

extension Isolated {
    @Suite("droverd when a maintenance window ends during a contract (issue #7)")
    struct WindowEndTests {
        @Test("the window closes while the contract runs: cancelled, rolled back, not retried in the closed window, applied in the next one")
        func windowEndsDuringContract() async throws {
            // r3's contract sleeps while contract_brake has a row: long enough to be cut
            // off by the window's end, until the test takes the brake away.
            let braked = [
                "0003_braked.sql": """
                -- drover:revision r3
                -- drover:parent r2
                -- drover:expand
                INSERT INTO effects VALUES ('r3 expand');
                CREATE TABLE contract_brake (held boolean);
                INSERT INTO contract_brake VALUES (true);
                -- drover:contract
                INSERT INTO effects VALUES ('r3 contract');
                SELECT pg_sleep(600) FROM contract_brake;
                """
            ]
            let fixture = try await FleetFixture.make(tenants: ["acme"], extraRevisions: braked)
            defer { fixture.remove() }
            try fixture.editManifest {
                $0.replacingOccurrences(
                    of: "  always: {always: true}",
                    with: "  always: {always: true}\n  nightly: {days: [mon, tue, wed, thu, fri, sat, sun], start: \"02:00\", duration: 30min, timezone: UTC}"
                )
                .replacingOccurrences(of: "{name: preview, tier: preview,", with: "{name: preview, tier: preview, window: nightly,")
            }
            // droverd's wall clock, moved by the test (DROVER_TEST_CLOCK).
            let clock = fixture.directory + "/clock"
            func setClock(_ time: String) throws { try time.write(toFile: clock, atomically: true, encoding: .utf8) }
            try setClock("2026-12-07T01:00:00Z")
            let daemon = try await RunningDaemon.start(fixture, environment: ["DROVER_TEST_CLOCK": clock])
            defer { daemon.kill() }
            func preview() async throws -> FleetStatus.DatabaseRow? { try await daemon.json(FleetStatus.self, "status").database("preview") }
            func contractSessions() async throws -> String? {
                try await fixture.scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'drover/r3/contract'", in: "preview")
            }

            try await daemon.waitFor("preview expanded to r3") { $0.database("preview")?.expanded == "r3" && $0.database("preview")?.state == .waitingRelease }
            #expect(try await daemon.ctl("release", "r3", "--tier", "preview").status == 0)
            try await daemon.waitFor("contracts wait for the window") { $0.database("preview")?.state == .waitingWindow }
            #expect(try await preview()?.next_window == "2026-12-07T02:00:00Z")

            try setClock("2026-12-07T02:00:00Z")
            try await daemon.waitFor("r3's contract running inside the window") {
                $0.database("preview")?.contracted == "r2" && $0.database("preview")?.state == .contracting
            }
            #expect(try await eventually(timeout: .seconds(10)) { try await contractSessions() == "1" }, "the contract's session is on the server")

            try setClock("2026-12-07T02:30:01Z")
            try await daemon.waitFor("the contract cancelled at the window's end") { $0.database("preview")?.state == .waitingWindow }
            #expect(try await eventually(timeout: .seconds(10)) { try await contractSessions() == "0" }, "cancelled on the server (PQcancel), not left running")
            #expect(try await effects(fixture, in: "preview") == ["r1 expand", "r2 expand", "r3 expand"], "the contract's first statement rolled back")
            #expect(try await fixture.scalar("SELECT count(*) FROM drover.revisions WHERE revision = 'r3' AND phase = 'contract'", in: "preview") == "0")
            let closed = try await preview()
            #expect(closed?.contracted == "r2" && closed?.next_window == "2026-12-08T02:00:00Z", "\(String(describing: closed))")
            #expect(daemon.process.output.contains("cancelling contract r3: "), "the log says why")

            // Not retried while the window is closed.
            try await Task.sleep(for: .seconds(1))
            #expect(try await contractSessions() == "0")
            #expect(try await preview()?.state == .waitingWindow)

            // The next window, with less than the phase's expected time (5 min by default) left: still waits.
            try await fixture.cluster.run("DELETE FROM contract_brake", database: fixture.databases["preview"]!)
            try setClock("2026-12-08T02:26:00Z")
            try await Task.sleep(for: .seconds(1))
            #expect(try await preview()?.state == .waitingWindow, "4 minutes left of the window is less than the 5 minutes a contract is expected to take")

            try setClock("2026-12-09T02:00:00Z")
            try await daemon.waitFor("the contract applied in the next window") {
                $0.database("preview")?.contracted == "r3" && $0.database("preview")?.state == .current
            }
            #expect(try await effects(fixture, in: "preview") == ["r1 expand", "r2 expand", "r3 contract", "r3 expand"], "the contract exactly once")
        }
    }
}

extension Isolated {
    @Suite("droverd when its state store cannot be written (issue #7)", .serialized)
    struct StateStoreUnwritableTests {
        /// A new revision r3 reaches preview while the state store refuses writes: no
        /// phase starts without its intent; status and log say why; once the store takes
        /// writes again, r3 runs once.
        private func newRevisionWhileUnwritable(
            _ fixture: FleetFixture, daemon: RunningDaemon, reason: String, breakStore: () async throws -> Void, mendStore: () async throws -> Void
        ) async throws {
            try await daemon.waitFor("preview at r2") { $0.database("preview")?.expanded == "r2" }
            try await breakStore()
            try """
            -- drover:revision r3
            -- drover:parent r2
            -- drover:expand
            INSERT INTO effects VALUES ('r3 expand');
            """.write(toFile: fixture.directory + "/migrations/0003_r3.sql", atomically: true, encoding: .utf8)
            daemon.process.signal(SIGHUP)
            try await daemon.waitFor("status names the state store") { status in
                status.state_store_error?.contains(fixture.statePath) == true && status.database("preview")?.error?.contains("expand r3 not started") == true
            }
            let held = try await daemon.json(FleetStatus.self, "status")
            #expect(held.state_store_error?.contains(reason) == true, "\(held.state_store_error ?? "")")
            #expect(held.database("preview")?.state == .pending && held.database("preview")?.target == "r3")
            let table = try await daemon.ctl("status")
            #expect(table.errors.contains("warning: droverd cannot write its state store"), "\(table.errors)")
            #expect(daemon.process.output.contains("not starting expand r3: droverd cannot write its state store"))
            // Several retries later, still nothing ran.
            try await Task.sleep(for: .seconds(6))
            #expect(try await effects(fixture, in: "preview") == ["r1 expand", "r2 expand"], "no phase without its intent")
            #expect(try await fixture.scalar("SELECT count(*) FROM drover.revisions WHERE revision = 'r3'", in: "preview") == "0")

            try await mendStore()
            try await daemon.waitFor("r3 applied once the store takes writes", timeout: .seconds(30)) { status in
                status.database("preview")?.expanded == "r3" && status.state_store_error == nil
            }
            #expect(try await effects(fixture, in: "preview") == ["r1 expand", "r2 expand", "r3 expand"])
            #expect(daemon.process.output.contains("is writable again"))
        }

        @Test("the state directory's disk is full (a tmpfs filled up)")
        func diskFull() async throws {
            let fixture = try await FleetFixture.make(tenants: ["acme"])
            defer { fixture.remove() }
            let directory = fixture.directory + "/state"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let mounted = try await Subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", directory])
            try #require(mounted.status == 0, "mounting a tmpfs needs root: \(mounted.errors)")
            defer { _ = try? Subprocess.run(["umount", "-l", directory]) }
            let daemon = try await RunningDaemon.start(fixture)
            defer { daemon.kill() }
            try await newRevisionWhileUnwritable(
                fixture, daemon: daemon, reason: "full",
                breakStore: {
                    // dd stops at ENOSPC: the disk is full.
                    _ = try await Subprocess.run(["dd", "if=/dev/zero", "of=\(directory)/filler", "bs=64k"])
                },
                mendStore: {
                    try FileManager.default.removeItem(atPath: directory + "/filler")
                })
        }

        @Test("the state file and its journal become read-only (immutable)")
        func readOnly() async throws {
            let fixture = try await FleetFixture.make(tenants: ["acme"])
            defer { fixture.remove() }
            let daemon = try await RunningDaemon.start(fixture)
            defer { daemon.kill() }
            // Not the -shm file: SQLite maps it, and a write to a mapped immutable file is
            // SIGBUS, not an error. chattr, since root ignores file modes.
            let files = [fixture.statePath, fixture.statePath + "-wal"]
            defer { _ = try? Subprocess.run(["chattr", "-i"] + files) }
            try await newRevisionWhileUnwritable(
                fixture, daemon: daemon, reason: "disk I/O error",
                breakStore: {
                    let result = try await Subprocess.run(["chattr", "+i"] + files)
                    try #require(result.status == 0, "chattr +i: \(result.errors)")
                },
                mendStore: {
                    _ = try await Subprocess.run(["chattr", "-i"] + files)
                })
        }
    }
}

extension Isolated {
    @Suite("no password in anything droverd says (issue #7)")
    struct SecretsTests {
        @Test("passwords from password_file (one right, one wrong) appear in no log line, status, history, error, event, state file or tracking row")
        func passwordsNowhere() async throws {
            let fixture = try await FleetFixture.make(tenants: ["acme"])
            defer { fixture.remove() }
            let cluster = fixture.cluster
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let (role, password, wrong) = ("secret_\(suffix)", "prod-Secret-\(suffix)", "wrong-Secret-\(suffix)")
            try await cluster.run(
                "CREATE ROLE \(role) LOGIN PASSWORD '\(password)'; ALTER DATABASE \(fixture.databases["production"]!) OWNER TO \(role); GRANT ALL ON SCHEMA acme TO \(role)",
                database: fixture.databases["shared"]!)
            try FileManager.default.createDirectory(atPath: fixture.directory + "/secrets", withIntermediateDirectories: true)
            try (password + "\n").write(toFile: fixture.directory + "/secrets/production", atomically: true, encoding: .utf8)
            try wrong.write(toFile: fixture.directory + "/secrets/wrong", atomically: true, encoding: .utf8)
            try fixture.editManifest { text in
                text.replacingOccurrences(
                    of: "dsn: \"\(cluster.conninfo(database: fixture.databases["production"]!))\"}",
                    with: "dsn: \"\(cluster.tcpConninfo(database: fixture.databases["production"]!, user: role))\", password_file: ../secrets/production}"
                )
                .replacingOccurrences(
                    of: "dsn: \"\(cluster.conninfo(database: fixture.databases["shared"]!))\", schema: acme}",
                    with: "dsn: \"\(cluster.tcpConninfo(database: fixture.databases["shared"]!, user: role))\", schema: acme, password_file: ../secrets/wrong}")
            }
            try #require(
                try String(contentsOfFile: fixture.manifestDirectory + "/10-fleet.yaml", encoding: .utf8).components(separatedBy: "password_file").count == 3)
            let daemon = try await RunningDaemon.start(fixture, arguments: ["--log-level", "debug"])
            defer { daemon.kill() }
            let watch = try BackgroundProcess([try Subprocess.builtProduct("droverctl"), "watch", "--json", "--socket", daemon.socket])

            try await daemon.waitFor("preview at r2") { $0.database("preview")?.expanded == "r2" }
            #expect(try await daemon.ctl("promote", "r2").status == 0)
            try await daemon.waitFor("production at r2 over TCP with its password") { $0.database("production")?.expanded == "r2" }
            #expect(try await daemon.ctl("promote", "r2", "--to", "tenants").status == 0)
            try await daemon.waitFor("the tenant with the wrong password unreachable") { status in
                status.database("tenant-acme")?.state == .unreachable
                    && status.database("tenant-acme")?.error?.contains("password authentication failed") == true
            }
            // A failing phase on the password-protected database: its error is stored and shown.
            try "-- drover:revision r3\n-- drover:parent r2\n-- drover:expand\nSELECT 1 / 0;\n".write(
                toFile: fixture.directory + "/migrations/0003_bad.sql", atomically: true, encoding: .utf8)
            #expect(try await daemon.ctl("reload").status == 0)
            #expect(try await daemon.ctl("deploy", "r3", "--tier", "production").status == 0)
            try await daemon.waitFor("production failed on r3") { $0.database("production")?.state == .failed }

            var said = [daemon.process.output]
            for command in [
                ["status"], ["status", "--json"], ["history", "--json"], ["history", "--output"], ["drift", "--json"], ["windows", "--json"],
                ["plan", "r3", "--to", "production"], ["retry", "production"], ["stamp", "tenant-acme", "r1", "--reason", "test"],
            ] {
                let result = try await daemon.ctl(command)
                said += [result.output, result.errors]
            }
            watch.signal(SIGTERM)
            _ = await watch.wait()
            said.append(watch.output)
            #expect(said[0].contains("password authentication failed") && watch.output.contains("\"applied\""), "the capture holds what the fleet did")
            for path in [fixture.statePath, fixture.statePath + "-wal"] where FileManager.default.fileExists(atPath: path) {
                said.append(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self))
            }
            for role in ["preview", "production"] {
                said += try await cluster.run("SELECT revisions::text FROM drover.revisions", database: fixture.databases[role]!).rows.compactMap { $0[0] }
            }
            let everything = said.joined(separator: "\n")
            #expect(everything.contains("division by zero"), "the failed phase's error is in the capture")
            #expect(!everything.contains(password), "the production password appears in what droverd said")
            #expect(!everything.contains(wrong), "the wrong password appears in what droverd said")
        }
    }
}
