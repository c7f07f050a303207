import Foundation
import Testing

@testable import DroverCore

@Suite("Scheduler")
struct SchedulerTests {
    @Test("databases settled at the target are skipped by later ticks, yet one whose records go back (a revert, a manual change) is moved again")
    func settledDatabasesComeBack() {
        var fleet = scheduler(manifest(tenants: 6, waves: "waves:\n  tenants:\n    - {name: all, select: {all: true}, max_parallel: 2}"))
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        fleet.take(fleet.release("r1", tiers: ["tenants"]))
        _ = runToQuiet(&fleet, at: monday)
        #expect((0..<6).allSatisfy { fleet.revisionStates["t\($0)"]?.contracted == "r1" })
        #expect(starts(fleet.tick(now: monday)).isEmpty)
        // t0, first in the wave, loses r1's contract behind drover's back.
        fleet.observed("t0", ObservedDatabase(reachable: true, records: applied(r1Expanded, graph: makeGraph()), observedAt: monday))
        #expect(starts(fleet.tick(now: monday)) == ["t0: contract r1"])
        // A new release moves every settled database again.
        _ = runToQuiet(&fleet, at: monday)
        fleet.take(fleet.deploy("r2", tier: "tenants"))
        fleet.take(fleet.release("r1", tiers: ["tenants"]))
        #expect(starts(fleet.tick(now: monday)).count == 2, "the wave's two slots take the first two databases at r2")
    }

    @Test(
        "a settled database deep in its wave whose records go back is moved again; failures the shared store brings to settled databases count against the budget, in wave order"
    )
    func settledMembersDeepInTheWave() {
        var fleet = scheduler(manifest(tenants: 6, waves: "waves:\n  tenants:\n    - {name: all, select: {all: true}, max_parallel: 2, failure_budget: 1}"))
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        fleet.take(fleet.release("r1", tiers: ["tenants"]))
        _ = runToQuiet(&fleet, at: monday)
        #expect(starts(fleet.tick(now: monday)).isEmpty)
        fleet.observed("t4", ObservedDatabase(reachable: true, records: applied(r1Expanded, graph: makeGraph()), observedAt: monday))
        #expect(starts(fleet.tick(now: monday)) == ["t4: contract r1"])
        #expect(fleet.runningNames == ["t4"])
        _ = runToQuiet(&fleet, at: monday)
        #expect(fleet.runningNames.isEmpty)
        // A new leader reads failures its predecessor recorded for t5 and t2.
        let failure = { (name: String) in DatabaseRuntime.Failure(step: PlannedStep(revision: "r1", phase: .contract), message: "\(name) broke", attempts: 1) }
        fleet.replaceShared(failures: ["t5": failure("t5"), "t2": failure("t2")], pausedDatabases: [])
        #expect(fleet.failedNames == ["t2", "t5"])
        #expect(fleet.tick(now: monday).contains(.halt(tier: "tenants", wave: "all", failed: ["t2", "t5"])))
        fleet.replaceShared(failures: [:], pausedDatabases: [])
        #expect(fleet.failedNames.isEmpty)
    }

    @Test("preview follows the head; later tiers wait for promotion")
    func previewFollowsHead() {
        var fleet = scheduler()
        #expect(starts(fleet.tick(now: monday)) == ["preview: expand r1"])
        #expect(fleet.stateWord(of: "preview", now: monday) == .expanding)
        #expect(fleet.stateWord(of: "production", now: monday) == .current)
        fleet.phaseSucceeded("preview", step: PlannedStep(revision: "r1", phase: .expand), at: monday, duration: .seconds(1))
        #expect(starts(fleet.tick(now: monday)) == ["preview: backfill r1"])
        // Pinning preview holds it back.
        fleet.take(fleet.deploy("r1", tier: "preview"))
        fleet.phaseSucceeded("preview", step: PlannedStep(revision: "r1", phase: .backfill), at: monday, duration: .seconds(1))
        #expect(starts(fleet.tick(now: monday)) == [])
        #expect(fleet.stateWord(of: "preview", now: monday) == .waitingRelease)
    }

    @Test("contracts run only after release, up to the released revision")
    func releaseGatesContract() {
        var fleet = scheduler(observedAll: applied(r1Expanded, graph: makeGraph()))
        fleet.take(fleet.deploy("r2", tier: "preview"))
        #expect(starts(fleet.tick(now: monday)) == ["preview: expand r2"])
        fleet.phaseSucceeded("preview", step: PlannedStep(revision: "r2", phase: .expand), at: monday, duration: .seconds(1))
        #expect(starts(fleet.tick(now: monday)) == [])
        #expect(fleet.stateWord(of: "preview", now: monday) == .waitingRelease)
        fleet.take(fleet.release("r1", tiers: ["preview"]))
        #expect(starts(fleet.tick(now: monday)) == ["preview: contract r1"])
    }

    @Test("a closed window keeps the contract waiting; it starts at the opening and is cancelled at the close")
    func windowGate() {
        var fleet = scheduler(observedAll: applied(r1Expanded, graph: makeGraph()))
        fleet.take(fleet.deploy("r1", tier: "preview"))
        fleet.take(fleet.release("r1", tiers: ["preview"]))
        fleet.take(fleet.deploy("r1", tier: "production"))
        fleet.take(fleet.release("r1", tiers: ["production"]))
        let actions = fleet.tick(now: monday)
        #expect(starts(actions) == ["preview: contract r1"])  // preview's window is always open
        let opening = ISO8601DateFormatter().date(from: "2026-11-23T22:30:00Z")!
        #expect(actions.contains(.wakeUp(at: opening)))
        #expect(fleet.stateWord(of: "production", now: monday) == .waitingWindow)

        #expect(starts(fleet.tick(now: opening)) == ["production: contract r1"])
        let close = opening.addingTimeInterval(5400)
        // Nothing to start; the loop is asked to wake at the close, to cancel there.
        #expect(fleet.tick(now: opening.addingTimeInterval(3600)) == [.wakeUp(at: close)])
        #expect(
            fleet.tick(now: close) == [.cancel(database: "production", step: PlannedStep(revision: "r1", phase: .contract), because: .windowClosed(at: close))])
        // Cancelled and rolled back: retried in the next window, not counted as a failure.
        fleet.phaseFailed("production", step: PlannedStep(revision: "r1", phase: .contract), .cancelled, at: close)
        #expect(fleet.stateWord(of: "production", now: close) == .waitingWindow)
        #expect(starts(fleet.tick(now: opening.addingTimeInterval(86_400))) == ["production: contract r1"])
    }

    @Test("a DST change inside the window: the phase may run the window's real length and is cancelled at its real end")
    func dstInsideWindow() {
        // Sunday 01:00 Berlin for 3h, on the night clocks go back (2026-10-25).
        let extra = "\n  - {name: night-db, tier: production, dsn: \"host=n dbname=n\", window: weeknights}"
        var yamlManifest = manifest(extra: extra)
        yamlManifest.windows["berlin-night"] = MaintenanceWindow(
            name: "berlin-night", schedule: .weekly(days: [.sun], start: LocalTime("01:00")!, duration: .seconds(3 * 3600), timeZone: "Europe/Berlin"))
        yamlManifest.databases = yamlManifest.databases.map { spec in
            var spec = spec
            if spec.name == "night-db" { spec.window = "berlin-night" }
            return spec
        }
        var fleet = scheduler(yamlManifest, observedAll: applied(r1Expanded, graph: makeGraph()))
        fleet.take(fleet.deploy("r1", tier: "production"))
        fleet.take(fleet.release("r1", tiers: ["production"]))
        let opening = ISO8601DateFormatter().date(from: "2026-10-24T23:00:00Z")!  // 01:00 CEST
        #expect(starts(fleet.tick(now: opening)).contains("night-db: contract r1"))
        // 02:30 local happens twice; two real hours in, the window is still open.
        #expect(fleet.tick(now: opening.addingTimeInterval(2 * 3600)).allSatisfy { if case .cancel = $0 { false } else { true } })
        let end = ISO8601DateFormatter().date(from: "2026-10-25T02:00:00Z")!  // 03:00 CET, three real hours
        #expect(fleet.tick(now: end).contains { if case .cancel(let name, _, _) = $0 { name == "night-db" } else { false } })
    }

    @Test("a window-bound phase does not start when its expected duration does not fit in what is left")
    func expectedDurationMustFit() {
        let lateInWindow = ISO8601DateFormatter().date(from: "2026-11-23T23:50:00Z")!  // 10 min of the window left
        var slow = scheduler(observedAll: applied(r1Expanded, graph: makeGraph()))
        slow.take(slow.deploy("r1", tier: "production"))
        slow.take(slow.release("r1", tiers: ["production"]))
        slow.restore(failures: [:], pausedDatabases: [], expectedDurations: ["production/r1/contract": .seconds(1800)])  // its last run took 30 min
        #expect(!starts(slow.tick(now: lateInWindow)).contains("production: contract r1"))
        #expect(slow.stateWord(of: "production", now: lateInWindow) == .waitingWindow)

        var quick = scheduler(observedAll: applied(r1Expanded, graph: makeGraph()))
        quick.take(quick.deploy("r1", tier: "production"))
        quick.take(quick.release("r1", tiers: ["production"]))
        #expect(starts(quick.tick(now: lateInWindow)).contains("production: contract r1"))  // the 5 min default fits
    }

    @Test("waves move in order: the canary first, the rest after it finished and soaked")
    func wavesAndSoak() {
        var fleet = scheduler(observedAll: [])
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        let first = fleet.tick(now: monday)
        #expect(starts(first).filter { $0.hasPrefix("t") } == ["t0: expand r1"])
        let all = runToQuiet(&fleet, at: monday)
        #expect(all.contains(.waveFinished(tier: "tenants", wave: "canary")))
        #expect(all.contains(.wakeUp(at: monday.addingTimeInterval(1800))))
        #expect(starts(fleet.tick(now: monday.addingTimeInterval(1799))).filter { $0.hasPrefix("t") } == [])
        #expect(starts(fleet.tick(now: monday.addingTimeInterval(1800))).filter { $0.hasPrefix("t") } == ["t1: expand r1", "t2: expand r1", "t3: expand r1"])
    }

    @Test("failures beyond the budget (a count) halt the tier, naming the failed databases; resume continues")
    func budgetAsCount() {
        var fleet = scheduler(observedAll: [])
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        _ = runToQuiet(&fleet, at: monday)
        let later = monday.addingTimeInterval(1800)
        let started = fleet.tick(now: later)
        #expect(starts(started).count == 3)
        let step = PlannedStep(revision: "r1", phase: .expand)
        fleet.phaseFailed("t1", step: step, .failed("boom"), at: later)
        #expect(!fleet.tick(now: later).contains { if case .halt = $0 { true } else { false } })  // 1 ≤ budget 1
        fleet.phaseFailed("t2", step: step, .failed("boom"), at: later)
        #expect(fleet.tick(now: later).contains(.halt(tier: "tenants", wave: "rest", failed: ["t1", "t2"])))
        #expect(fleet.stateWord(of: "t1", now: later) == .failed)
        // t3 finishes, but the halted tier starts nothing new.
        fleet.phaseSucceeded("t3", step: step, at: later, duration: .seconds(1))
        #expect(starts(fleet.tick(now: later)) == [])
        fleet.take(fleet.resume(tiers: ["tenants"]))
        #expect(starts(fleet.tick(now: later)) == ["t1: expand r1", "t2: expand r1", "t3: backfill r1"])
    }

    @Test("a budget as a percentage")
    func budgetAsPercent() {
        let waves = "waves:\n  tenants:\n    - {name: all, select: {all: true}, failure_budget: 10%}"
        var fleet = scheduler(manifest(tenants: 20, waves: waves))
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        _ = fleet.tick(now: monday)
        let step = PlannedStep(revision: "r1", phase: .expand)
        fleet.phaseFailed("t1", step: step, .failed("x"), at: monday)
        fleet.phaseFailed("t2", step: step, .failed("x"), at: monday)
        #expect(!fleet.tick(now: monday).contains { if case .halt = $0 { true } else { false } })  // 2 of 20 = 10%
        fleet.phaseFailed("t3", step: step, .failed("x"), at: monday)
        #expect(fleet.tick(now: monday).contains(.halt(tier: "tenants", wave: "all", failed: ["t1", "t2", "t3"])))
    }

    @Test("a tenant discovered in the middle of a rollout joins its wave and moves")
    func discoveredMidRollout() {
        var fleet = scheduler(observedAll: [])
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        _ = runToQuiet(&fleet, at: monday)
        let later = monday.addingTimeInterval(1800)
        _ = runToQuiet(&fleet, at: later)
        let grown = manifest(tenants: 5)
        fleet.replace(manifest: grown, graph: makeGraph())
        fleet.observed("t4", ObservedDatabase(reachable: true, observedAt: later))
        #expect(starts(fleet.tick(now: later)) == ["t4: expand r1"])
    }

    @Test("an unreachable database waits for its retry time and is not a failure")
    func unreachable() {
        var fleet = scheduler()
        _ = fleet.tick(now: monday)
        fleet.phaseFailed(
            "preview", step: PlannedStep(revision: "r1", phase: .expand), .unreachable("connection refused", retryAfter: .seconds(30)), at: monday)
        #expect(fleet.stateWord(of: "preview", now: monday) == .unreachable)
        let actions = fleet.tick(now: monday)
        #expect(starts(actions) == [])
        #expect(actions.contains(.wakeUp(at: monday.addingTimeInterval(30))))
        #expect(starts(fleet.tick(now: monday.addingTimeInterval(30))) == ["preview: expand r1"])
    }

    @Test("a phase droverd could not start (its state store refused the intent) stays pending with the reason and is tried again later")
    func notStarted() {
        var fleet = scheduler()
        _ = fleet.tick(now: monday)
        fleet.phaseFailed(
            "preview", step: PlannedStep(revision: "r1", phase: .expand), .notStarted("expand r1 not started: disk full", retryAfter: .seconds(5)), at: monday)
        #expect(fleet.stateWord(of: "preview", now: monday) == .pending, "the database is fine; nothing failed")
        #expect(fleet.runtime["preview"]?.heldBecause == "expand r1 not started: disk full")
        #expect(fleet.runtime["preview"]?.failure == nil)
        #expect(starts(fleet.tick(now: monday.addingTimeInterval(4))) == [])
        #expect(starts(fleet.tick(now: monday.addingTimeInterval(5))) == ["preview: expand r1"])
        #expect(fleet.runtime["preview"]?.heldBecause == nil, "a phase that starts clears the reason")
    }

    @Test("a backfill that waited max_wait throttled gives back its slot: still backfilling with the reason, not a failure, started again later")
    func throttledTooLong() {
        var fleet = scheduler()
        _ = fleet.tick(now: monday)
        fleet.phaseFailed(
            "preview", step: PlannedStep(revision: "r1", phase: .backfill), .throttled("replica lag 14s > 10s (standby1)", retryAfter: .seconds(60)), at: monday
        )
        #expect(fleet.stateWord(of: "preview", now: monday) == .backfilling)
        #expect(fleet.throttledWaits == ["preview": "replica lag 14s > 10s (standby1)"])
        #expect(fleet.runtime["preview"]?.failure == nil && fleet.failedNames.isEmpty, "spends no failure budget")
        #expect(starts(fleet.tick(now: monday.addingTimeInterval(59))) == [])
        #expect(starts(fleet.tick(now: monday.addingTimeInterval(60))) == ["preview: expand r1"])
        #expect(fleet.throttledWaits.isEmpty, "a phase that starts clears the wait")
    }

    @Test("pause during a wave stops new phases without touching running ones")
    func pauseDuringWave() {
        var fleet = scheduler()
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        _ = runToQuiet(&fleet, at: monday)
        let later = monday.addingTimeInterval(1800)
        #expect(starts(fleet.tick(now: later)).count == 3)
        fleet.take(fleet.pause(tiers: ["tenants"]))
        fleet.phaseSucceeded("t1", step: PlannedStep(revision: "r1", phase: .expand), at: later, duration: .seconds(1))
        #expect(fleet.tick(now: later).allSatisfy { if case .cancel = $0 { false } else { true } })
        #expect(starts(fleet.tick(now: later)) == [])
        #expect(fleet.stateWord(of: "t1", now: later) == .paused)
        #expect(fleet.stateWord(of: "t2", now: later) == .expanding)
        fleet.take(fleet.resume(tiers: ["tenants"]))
        #expect(starts(fleet.tick(now: later)) == ["t1: backfill r1"])
    }

    @Test("a locked or tampered database is not moved")
    func lockedAndTampered() {
        var fleet = scheduler()
        fleet.observed("preview", ObservedDatabase(reachable: true, records: [], lockedBy: 4242, observedAt: monday))
        #expect(starts(fleet.tick(now: monday)) == [])
        #expect(fleet.stateWord(of: "preview", now: monday) == .locked)
        let tampered = [TrackingRecord(revision: "r1", phase: .expand, status: .applied, checksum: "not-the-file")]
        fleet.observed("preview", ObservedDatabase(reachable: true, records: tampered, observedAt: monday))
        #expect(starts(fleet.tick(now: monday)) == [])
        #expect(fleet.stateWord(of: "preview", now: monday) == .tampered)
    }

    @Test("a file edited after drover applied it shows tampered at the next graph, before any phase starts")
    func tamperAfterOwnPhase() {
        var fleet = scheduler()
        fleet.phaseSucceeded("preview", step: PlannedStep(revision: "r1", phase: .expand), at: monday, duration: .seconds(1))
        var edited = revisionTexts
        edited[0] = edited[0].replacingOccurrences(of: "CREATE TABLE t (id int);", with: "CREATE TABLE t (id bigint);")
        fleet.replace(manifest: manifest(), graph: RevisionGraph.build(edited.enumerated().map { RevisionParser.parse($1, file: "\($0).sql").revision! }).graph)
        #expect(fleet.stateWord(of: "preview", now: monday) == .tampered)
        #expect(starts(fleet.tick(now: monday)).filter { $0.hasPrefix("preview") } == [])
    }

    @Test("a tamper found when a phase starts is no failure: no budget spent, no halt, state tampered")
    func tamperAtPhaseStart() {
        let waves = "waves:\n  tenants:\n    - {name: all, select: {all: true}, failure_budget: 0}"
        var fleet = scheduler(manifest(tenants: 2, waves: waves))
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        let step = PlannedStep(revision: "r1", phase: .expand)
        _ = fleet.tick(now: monday)
        let section = TamperedSection(revision: "r1", phase: .expand, file: SourceLocation(file: "0.sql", line: 3), recorded: "old", current: "new")
        fleet.phaseFailed("t0", step: step, .tampered([section]), at: monday)
        let actions = fleet.tick(now: monday)
        #expect(!actions.contains { if case .halt = $0 { true } else { false } })
        #expect(fleet.stateWord(of: "t0", now: monday) == .tampered)
        #expect(fleet.runtime["t0"]?.failure == nil)
        #expect(!starts(actions).contains("t0: expand r1"))
    }

    @Test("max_parallel per wave and max_per_server limit how many databases move at once")
    func concurrency() {
        let waves = "waves:\n  tenants:\n    - {name: all, select: {all: true}, max_parallel: 3}"
        var fleet = scheduler(manifest(tenants: 6, waves: waves))
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        #expect(starts(fleet.tick(now: monday)).filter { $0.hasPrefix("t") }.count == 3)

        let perServer = manifest(tenants: 6, extra: "", waves: "waves:\n  tenants:\n    - {name: all, select: {all: true}}")
            .withSettings { $0.maxPerServer = 1 }
        var limited = scheduler(perServer)
        limited.take(limited.deploy("r1", tier: "tenants"))
        // Tenants alternate between hosts h0 and h1: one each.
        #expect(starts(limited.tick(now: monday)).filter { $0.hasPrefix("t") } == ["t0: expand r1", "t1: expand r1"])
    }

    @Test("promotion is refused while the previous tier lags, failed or drifted")
    func promotionGate() {
        var fleet = scheduler()
        #expect(fleet.promotionRefusal(of: "r1", to: "production", fingerprints: [:]) == "r1 is not expanded on preview database preview")
        fleet.observed("preview", ObservedDatabase(reachable: true, records: applied(r1Expanded, graph: makeGraph()), observedAt: monday))
        #expect(fleet.promotionRefusal(of: "r1", to: "production", fingerprints: [:]) == nil)
        #expect(fleet.promotionRefusal(of: "r1", to: "preview", fingerprints: [:])?.contains("first tier") == true)
        #expect(fleet.promotionRefusal(of: "zz", to: "production", fingerprints: [:]) == "unknown revision zz")

        let twoPreviews = manifest(extra: "\n  - {name: preview-2, tier: preview, dsn: \"host=p dbname=p2\"}")
        var drifted = scheduler(twoPreviews, observedAll: applied(r1Expanded, graph: makeGraph()))
        #expect(drifted.promotionRefusal(of: "r1", to: "production", fingerprints: ["preview": "a", "preview-2": "b"])?.contains("schema drift") == true)
        drifted.phaseFailed("preview-2", step: PlannedStep(revision: "r2", phase: .expand), .failed("boom"), at: monday)
        #expect(drifted.promotionRefusal(of: "r1", to: "production", fingerprints: [:]) == "preview has failed database: preview-2")
    }
}

extension Manifest {
    func withSettings(_ change: (inout DatabaseSettings) -> Void) -> Manifest {
        var copy = self
        copy.databases = databases.map { database in
            var database = database
            change(&database.settings)
            return database
        }
        return copy
    }
}
