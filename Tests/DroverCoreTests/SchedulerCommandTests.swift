import Foundation
import Testing

@testable import DroverCore

/// Operators' commands fed to the machine as events, one expected action per line.
@Suite("Scheduler commands")
struct SchedulerCommandTests {
    private let r1 = PlannedStep(revision: "r1", phase: .expand)

    @Test("promote is refused at the gate, unchanged when already so, and takes effect only when its change is reported written")
    func promoteTakesEffectWhenWritten() {
        var fleet = scheduler()
        #expect(fleet.promote("r1", to: "production", fingerprints: [:], force: false) == .refused("r1 is not expanded on preview database preview"))
        let forced = fleet.promote("r1", to: "production", fingerprints: [:], force: true)
        #expect(forced == .accepted([.persist(.tier("production", TierControl(target: "r1")))]))
        #expect(fleet.target(ofTier: "production") == nil, "not written yet: nothing changed")
        fleet.take(forced)
        #expect(fleet.target(ofTier: "production") == "r1")
        #expect(fleet.promote("r1", to: "production", fingerprints: [:], force: false) == .unchanged)
    }

    @Test("a new target starts the waves over; release and pause write only the tiers they change")
    func releaseAndPause() {
        var fleet = scheduler()
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        _ = runToQuiet(&fleet, at: monday)
        #expect(fleet.tiers["tenants"]?.wavesFinished.isEmpty == false)
        guard case .accepted(let actions) = fleet.deploy("r2", tier: "tenants"), case .persist(.tier(_, let control)) = actions.first else {
            Issue.record("deploy r2 not accepted")
            return
        }
        #expect(control.wavesFinished.isEmpty)
        fleet.take(fleet.release("r1", tiers: ["preview"]))
        #expect(
            fleet.release("r1", tiers: ["preview", "tenants"])
                == .accepted([.persist(.tier("tenants", TierControl(target: "r1", released: "r1").finished(fleet.tiers["tenants"]!)))]))
        #expect(
            fleet.pause(tiers: ["preview"]) == .accepted([.persist(.tier("preview", TierControl(released: "r1").finished(fleet.tiers["preview"]!).paused()))]))
        #expect(fleet.setPaused(false, database: "t0") == .unchanged)
        #expect(fleet.setPaused(true, database: "t0") == .accepted([.persist(.paused(database: "t0", true, reason: nil))]))
    }

    @Test("a phase's failure is written and read again; a retry clears it, writes that and lifts the halt it was part of")
    func failureRetryAndHalt() {
        let waves = "waves:\n  tenants:\n    - {name: all, select: {all: true}, failure_budget: 0}"
        var fleet = scheduler(manifest(tenants: 2, waves: waves))
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        _ = fleet.tick(now: monday)
        let failed = fleet.phaseFailed("t0", step: r1, .failed("boom"), at: monday)
        let failure = DatabaseRuntime.Failure(step: r1, message: "boom", attempts: 1)
        #expect(failed == [.persist(.failure(database: "t0", failure)), .readSoon(database: "t0")])
        #expect(fleet.runtime["t0"] == .failed(failure))
        let halted = fleet.tick(now: monday)
        #expect(halted.contains(.halt(tier: "tenants", wave: "all", failed: ["t0"])))
        let haltedControl = fleet.tiers["tenants"]!
        #expect(halted.contains(.persist(.tier("tenants", haltedControl))), "the halt outlives the process")

        #expect(
            fleet.retry("t0") == [
                .persist(.failure(database: "t0", nil)),
                .persist(.tier("tenants", TierControl(target: "r1").finished(haltedControl))),
                .readSoon(database: "t0"),
            ])
        #expect(fleet.runtime["t0"] == nil, "idle")
        #expect(fleet.tiers["tenants"]?.halt == nil)
    }

    @Test("resuming a halted tier retries the databases the halt named once the resume is written")
    func resumeLiftsHalt() {
        let waves = "waves:\n  tenants:\n    - {name: all, select: {all: true}, failure_budget: 0}"
        var fleet = scheduler(manifest(tenants: 2, waves: waves))
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        _ = fleet.tick(now: monday)
        fleet.phaseFailed("t1", step: r1, .failed("boom"), at: monday)
        _ = fleet.tick(now: monday)
        let resume = fleet.resume(tiers: ["tenants"])
        guard case .accepted(let actions) = resume, case .persist(let change) = actions.first else {
            Issue.record("resume not accepted: \(resume)")
            return
        }
        #expect(fleet.runtime["t1"]?.failure != nil, "not written yet")
        #expect(fleet.persisted(change) == [.persist(.failure(database: "t1", nil)), .readSoon(database: "t1")])
        #expect(fleet.runtime["t1"] == nil, "idle")
    }

    @Test("stamping the failed phase moves the database on; stamping another only reads it again")
    func stamped() {
        var fleet = scheduler()
        _ = fleet.tick(now: monday)
        fleet.phaseFailed("preview", step: r1, .failed("boom"), at: monday)
        #expect(fleet.stamped("preview", steps: [PlannedStep(revision: "r2", phase: .expand)]) == [.readSoon(database: "preview")])
        #expect(fleet.runtime["preview"]?.failure != nil)
        #expect(fleet.stamped("preview", steps: [r1]) == [.persist(.failure(database: "preview", nil)), .readSoon(database: "preview")])
        #expect(fleet.runtime["preview"] == nil, "idle")
    }

    @Test("a database's runtime is one state: a failure replaces a wait, a start replaces both, a success leaves it idle")
    func runtimeIsOneState() {
        var fleet = scheduler()
        _ = fleet.tick(now: monday)
        fleet.phaseFailed("preview", step: r1, .locked(pid: 7, retryAfter: .seconds(30)), at: monday)
        #expect(fleet.runtime["preview"] == .waiting(until: monday.addingTimeInterval(30), .locked))
        #expect(starts(fleet.tick(now: monday.addingTimeInterval(30))) == ["preview: expand r1"])
        #expect(fleet.runtime["preview"]?.running?.step == r1)
        fleet.phaseFailed("preview", step: r1, .failed("boom"), at: monday)
        #expect(fleet.runtime["preview"]?.failure?.attempts == 1)
        #expect(fleet.runtime["preview"]?.notBefore == nil)
        _ = fleet.retry("preview")
        _ = fleet.tick(now: monday.addingTimeInterval(31))
        fleet.phaseSucceeded("preview", step: r1, at: monday, duration: .seconds(1))
        #expect(fleet.runtime["preview"] == nil, "idle")
    }

    @Test("cancel stops what runs and pauses it with the reason; nothing starts it again until resume; a tier's cancel pauses the tier")
    func cancel() {
        var fleet = scheduler()
        fleet.take(fleet.deploy("r1", tier: "tenants"))
        #expect(fleet.cancel(database: "preview", reason: "by alice") == .refused("no phase runs on preview"))
        _ = fleet.tick(now: monday)
        let decision = fleet.cancel(database: "preview", reason: "by alice")
        #expect(
            decision
                == .accepted([
                    .persist(.paused(database: "preview", true, reason: "by alice")),
                    .cancel(database: "preview", step: r1, because: .operatorRequest("by alice")),
                ]))
        fleet.take(decision)
        fleet.phaseFailed("preview", step: r1, .cancelled, at: monday)
        #expect(fleet.stateWord(of: "preview", now: monday) == .paused)
        #expect(fleet.pauseReasons["preview"] == "by alice")
        #expect(!starts(fleet.tick(now: monday)).contains("preview: expand r1"))
        fleet.take(fleet.setPaused(false, database: "preview"))
        #expect(fleet.pauseReasons["preview"] == nil)
        #expect(starts(fleet.tick(now: monday)).contains("preview: expand r1"))

        let running = fleet.runningNames.filter { $0.hasPrefix("t") }.sorted()
        guard case .accepted(let actions) = fleet.cancel(tier: "tenants", reason: "lag") else {
            Issue.record("the tier's cancel was not accepted")
            return
        }
        #expect(actions.compactMap { if case .cancel(let name, _, _) = $0 { name } else { nil } } == running)
        guard case .persist(.tier("tenants", let control)) = actions.first else {
            Issue.record("the tier's pause is not written first: \(actions)")
            return
        }
        #expect(control.paused && control.pauseReason == "lag")
        #expect(fleet.cancel(tier: "production", reason: "x") == .refused("no phase runs in tier production"))
    }

    @Test("a reload lists the new databases to read at once")
    func reloadReadsNewDatabases() {
        var fleet = scheduler(manifest(tenants: 2))
        #expect(fleet.replace(manifest: manifest(tenants: 4), graph: makeGraph()) == [.readSoon(database: "t2"), .readSoon(database: "t3")])
        #expect(fleet.replace(manifest: manifest(tenants: 1), graph: makeGraph()) == [])
        #expect(fleet.stateWord(of: "t3", now: monday) == .gone)
    }
}

extension TierControl {
    /// This control with `other`'s finished waves and halt (what the tick recorded).
    func finished(_ other: TierControl) -> TierControl {
        var copy = self
        copy.wavesFinished = other.wavesFinished
        return copy
    }

    func paused() -> TierControl {
        var copy = self
        copy.paused = true
        return copy
    }
}
