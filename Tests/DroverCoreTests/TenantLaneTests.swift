import Foundation
import Testing

@testable import DroverCore

/// Schema tenants of one database share a connection in lanes (`LaneBuilder`).
@Suite("tenant lanes in the scheduler")
struct TenantLaneTests {
    /// `count` schema tenants of one database (and `otherDatabase` more of a second
    /// database on the same server), one wave of `maxParallel`, all at r1 with r2
    /// (an expand alone) to move to.
    private func tenants(_ count: Int, otherDatabase: Int = 0, maxParallel: Int = 4, extra: String = "") -> Scheduler {
        var lines = (0..<count).map { "\n  - {name: s\($0), tier: tenants, dsn: \"host=h9 dbname=shared\", schema: s\($0)}" }
        lines += (0..<otherDatabase).map { "\n  - {name: o\($0), tier: tenants, dsn: \"host=h9 dbname=other\", schema: o\($0)}" }
        let waves = "waves:\n  tenants:\n    - {name: all, select: {all: true}, max_parallel: \(maxParallel)}"
        var fleet = scheduler(manifest(tenants: 0, extra: lines.joined() + extra, waves: waves), observedAll: applied(r1Full, graph: makeGraph()))
        fleet.take(fleet.deploy("r2", tier: "tenants"))
        return fleet
    }

    private func lanes(_ actions: [SchedulerAction]) -> [[String]] {
        actions.compactMap { if case .startLane(let members) = $0 { members.map(\.database) } else { nil } }
    }

    @Test("due tenants of one database start in lanes of up to 32, each lane one slot of max_parallel; a lane's slot frees when all its members ended")
    func lanesTakeOneSlot() {
        var fleet = tenants(200)
        let first = fleet.tick(now: monday)
        let started = lanes(first)
        #expect(started.map(\.count) == [32, 32, 32, 32])
        #expect(Set(started.flatMap { $0 }).count == 128)
        #expect(starts(first).filter { $0.hasPrefix("s") }.isEmpty, "no tenant starts alone")
        #expect(fleet.runningNames.filter { $0.hasPrefix("s") }.count == 128)
        #expect(started.allSatisfy { lane in lane.allSatisfy { fleet.runtime[$0]?.running?.lane == lane[0] } })

        // Part of a lane ended: its slot is still taken.
        for name in started[0].prefix(31) { fleet.phaseSucceeded(name, step: PlannedStep(revision: "r2", phase: .expand), at: monday, duration: .seconds(1)) }
        #expect(lanes(fleet.tick(now: monday)).isEmpty)
        fleet.phaseSucceeded(started[0][31], step: PlannedStep(revision: "r2", phase: .expand), at: monday, duration: .seconds(1))
        let next = fleet.tick(now: monday)
        #expect(lanes(next).map(\.count) == [32], "\(next)")
    }

    @Test("a member its lane never started goes back to the scheduler and starts in a later lane")
    func notStartedMemberReturns() {
        var fleet = tenants(3, maxParallel: 1)
        #expect(lanes(fleet.tick(now: monday)) == [["s0", "s1", "s2"]])
        fleet.phaseSucceeded("s0", step: PlannedStep(revision: "r2", phase: .expand), at: monday, duration: .seconds(1))
        fleet.phaseNotStarted("s1")
        fleet.phaseNotStarted("s2")
        #expect(fleet.runningNames.filter { $0.hasPrefix("s") }.isEmpty)
        #expect(lanes(fleet.tick(now: monday)) == [["s1", "s2"]])
    }

    @Test("max_per_server counts lanes: two databases on one server with max_per_server 1 move one lane at a time")
    func perServerCountsLanes() {
        var fleet = tenants(10, otherDatabase: 10)
        fleet = Scheduler(manifest: fleet.manifest.withSettings { $0.maxPerServer = 1 }, graph: fleet.graph, tiers: fleet.tiers)
        for database in fleet.manifest.databases {
            fleet.observed(database.name, ObservedDatabase(reachable: true, records: [], observedAt: monday))
        }
        let first = lanes(fleet.tick(now: monday))
        #expect(first.count == 1 && first[0].count == 10, "one lane of one database: \(first)")
    }

    @Test("a backfill, a tenant of a database of its own and a phase with a before-phase hook start alone")
    func aloneWhenNotShareable() {
        // r1's backfill: batches, each committing on its own.
        var fleet = tenants(3)
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        for name in ["s0", "s1", "s2"] {
            fleet.observed(name, ObservedDatabase(reachable: true, records: applied([("r1", .expand)], graph: makeGraph()), observedAt: monday))
        }
        let backfills = fleet.tick(now: monday)
        #expect(lanes(backfills).isEmpty)
        #expect(starts(backfills).filter { $0.hasPrefix("s") } == ["s0: backfill r1", "s1: backfill r1", "s2: backfill r1"])

        let waves = "waves:\n  tenants:\n    - {name: all, select: {all: true}, max_parallel: 4}"
        var plain = scheduler(manifest(tenants: 3, waves: waves))
        plain.take(plain.deploy("r1", tier: "tenants"))
        #expect(lanes(plain.tick(now: monday)).isEmpty, "tenants with databases of their own")

        var hooked = tenants(3, extra: "\nhooks:\n  - {on: before-phase, phase: expand, run: [/bin/true]}")
        let gated = hooked.tick(now: monday)
        #expect(lanes(gated).isEmpty)
        #expect(starts(gated).filter { $0.hasPrefix("s") } == ["s0: expand r2", "s1: expand r2", "s2: expand r2"])
    }

    @Test("a lane of one is a plain start")
    func laneOfOne() {
        var fleet = tenants(1)
        let actions = fleet.tick(now: monday)
        #expect(lanes(actions).isEmpty)
        #expect(starts(actions).filter { $0.hasPrefix("s") } == ["s0: expand r2"])
    }
}
