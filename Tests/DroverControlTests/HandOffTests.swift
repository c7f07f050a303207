import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

extension Isolated {
    /// What a phase costs droverd in thread hand-offs: every time one of its threads
    /// waits for another (a libpq thread for the actor, the SQLite thread for the
    /// loop, a timer) the kernel counts a voluntary context switch. Counted over the
    /// threads of a real droverd while it moves a fixed number of schema tenants, less
    /// what the same daemon does idle in the same time.
    @Suite("Thread hand-offs per phase")
    struct HandOffTests {
        static let tenants = 200

        @Test("a schema tenant's phase costs droverd few voluntary context switches")
        func switchesPerPhase() async throws {
            let names = (0..<Self.tenants).map { "t\($0)" }
            let fixture = try await FleetFixture.make(tenants: names, waves: "waves:\n  tenants:\n    - {name: all, select: {all: true}, max_parallel: 4}\n")
            defer { fixture.remove() }
            // A long poll interval: reads of the databases are not what is counted.
            let daemon = try await RunningDaemon.start(fixture, arguments: ["--poll-interval", "10min"])
            defer { daemon.kill() }
            try await daemon.waitFor("preview at r2") { $0.database("preview")?.expanded == "r2" }
            try await Task.sleep(for: .seconds(2))  // the preview's fingerprint and the last writes settle

            let idleStart = (ContinuousClock.now, Self.voluntarySwitches(of: daemon.process.pid))
            try await Task.sleep(for: .seconds(3))
            let idleRate = Double(Self.voluntarySwitches(of: daemon.process.pid) - idleStart.1) / (ContinuousClock.now - idleStart.0).seconds

            let threadsBefore = Self.byThread(daemon.process.pid)
            let start = (ContinuousClock.now, Self.voluntarySwitches(of: daemon.process.pid))
            #expect(try await daemon.ctl("deploy", "r1", "--tier", "tenants").status == 0)
            try await daemon.waitFor("every tenant at r1", timeout: .seconds(120)) { status in
                status.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.expanded == "r1" }
            }
            let elapsed = (ContinuousClock.now - start.0).seconds
            // By kind of thread (libpq threads, the SQLite thread and the NIO pool share
            // the name TP-#N; the cooperative pool is com.apple.root.default-qos).
            var byKind: [String: Int] = [:]
            for (thread, count) in Self.byThread(daemon.process.pid) {
                byKind[String(thread.prefix { $0 != "/" }.prefix { $0 != "#" }), default: 0] += count - (threadsBefore[thread] ?? 0)
            }
            let kinds = byKind.filter { $0.value > 0 }.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let switches = Double(Self.voluntarySwitches(of: daemon.process.pid) - start.1) - idleRate * elapsed
            let perPhase = switches / Double(Self.tenants)
            print(
                "hand-offs: \(String(format: "%.1f", perPhase)) voluntary context switches per tenant phase (\(Self.tenants) tenants in \(String(format: "%.1f", elapsed)) s, idle \(String(format: "%.0f", idleRate))/s; by thread: \(kinds))"
            )
            // Before the phases' ends went through an inbox into the round's one
            // state-store write, and the loop armed a timer per sleep, a phase cost 27.5
            // to 28 here; since, 18 to 19 (docs/benchmarks.md).
            #expect(perPhase < 24, "\(perPhase) voluntary context switches per phase; by thread: \(kinds)")
            await daemon.stop()
        }

        /// Voluntary context switches by thread, keyed "name/tid".
        static func byThread(_ pid: pid_t) -> [String: Int] {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            var out: [String: Int] = [:]
            for task in tasks {
                let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
                let name = status.split(separator: "\n").first { $0.hasPrefix("Name:") }?.split(separator: "\t").last.map(String.init) ?? "?"
                let line = status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") }
                out[name + "/" + task, default: 0] += line.flatMap { Int($0.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") } ?? 0
            }
            return out
        }

        /// The voluntary context switches of every thread of `pid`, alive ones (the
        /// process's own counter adds those of its ended threads).
        static func voluntarySwitches(of pid: pid_t) -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.reduce(0) { total, task in
                let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
                let line = status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") }
                return total + (line.flatMap { Int($0.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "") } ?? 0)
            }
        }
    }
}
