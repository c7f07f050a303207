import DroverCore
import Foundation
import Synchronization
import Testing

@testable import DroverDaemon

/// The daemon's parts that hold no I/O, tested without PostgreSQL.
@Suite("The fleet's parts")
struct FleetPartsTests {
    private let start = Date(timeIntervalSince1970: 1_800_000_000)

    private func spec(_ name: String, dsn: String) -> DatabaseSpec {
        DatabaseSpec(name: name, tier: "tenants", dsn: dsn, window: "always")
    }

    @Test("reads: all due at first, a poll interval after a read, four at rest; schema tenants halfway there join a due one")
    func observationSchedule() {
        var schedule = ObservationSchedule(pollInterval: .seconds(10))
        let shared = [spec("a", dsn: "dbname=shared"), spec("b", dsn: "dbname=shared")]
        let alone = spec("c", dsn: "dbname=c")
        let all = shared + [alone]
        func due(_ seconds: Double, busy: @escaping (String) -> Bool = { _ in false }) -> [String: [String]] {
            schedule.due(all, now: start.addingTimeInterval(seconds), busy: busy).mapValues { $0.map(\.name) }
        }
        #expect(due(0) == ["dbname=shared": ["a", "b"], "dbname=c": ["c"]])
        schedule.read("a", at: start, atRest: false, jitter: 0)
        schedule.read("b", at: start.addingTimeInterval(4), atRest: false, jitter: 0)
        schedule.read("c", at: start, atRest: true, jitter: 0)
        #expect(due(9).isEmpty)
        // a is due; b, read 6 s ago, is past halfway and comes along; c rests for 40 s.
        #expect(due(10) == ["dbname=shared": ["a", "b"]])
        schedule.read("a", at: start.addingTimeInterval(10), atRest: false, jitter: 0)
        schedule.read("b", at: start.addingTimeInterval(10), atRest: false, jitter: 0)
        #expect(due(39) == ["dbname=shared": ["a", "b"]])
        #expect(due(40) { $0 != "c" } == ["dbname=c": ["c"]], "a running phase is its database's read")
        schedule.soon("c")
        #expect(schedule.next["c"] == nil)
    }

    @Test("a conninfo whose read took long is read at most readShare of the time, unless a database of it is asked for")
    func longReadsHoldBack() {
        var schedule = ObservationSchedule(pollInterval: .seconds(10))
        let all = [spec("a", dsn: "dbname=shared"), spec("b", dsn: "dbname=shared"), spec("c", dsn: "dbname=c")]
        func due(_ seconds: Double) -> [String: [String]] {
            schedule.due(all, now: start.addingTimeInterval(seconds), busy: { _ in false }).mapValues { $0.map(\.name) }
        }
        schedule.read("a", at: start, atRest: false, jitter: 0)
        schedule.read("b", at: start.addingTimeInterval(2), atRest: false, jitter: 0)
        schedule.read("c", at: start, atRest: true, jitter: 0)
        schedule.groupRead("dbname=shared", began: start, took: .seconds(4))  // 4 s / 2 % = 200 s
        schedule.groupRead("dbname=c", began: start, took: .milliseconds(900))  // not a long read, though 45 s > the poll interval
        #expect(due(10).isEmpty, "the tenants wait out their long read; c rests")
        #expect(schedule.nextCheck == start.addingTimeInterval(40), "b's own due time (12 s) does not count while held: no walk over the fleet before c is due")
        #expect(due(40) == ["dbname=c": ["c"]])
        schedule.read("c", at: start.addingTimeInterval(40), atRest: true, jitter: 0)
        schedule.soon("a")
        #expect(due(50) == ["dbname=shared": ["a", "b"]], "asked for: read at once, with the rest of its conninfo")
        schedule.read("a", at: start.addingTimeInterval(50), atRest: false, jitter: 0)
        schedule.read("b", at: start.addingTimeInterval(50), atRest: false, jitter: 0)
        schedule.groupRead("dbname=shared", began: start.addingTimeInterval(50), took: .milliseconds(100))
        #expect(due(60) == ["dbname=shared": ["a", "b"]], "a quick read: the poll interval again")
    }

    @Test("a read that began before a phase's start or end is stale for that database only")
    func staleReads() {
        var schedule = ObservationSchedule(pollInterval: .seconds(10))
        let marks = schedule.marks
        schedule.phaseEvent("a")
        #expect(!schedule.isCurrent("a", since: marks))
        #expect(schedule.isCurrent("b", since: marks))
        #expect(schedule.isCurrent("a", since: schedule.marks))
    }

    @Test("the tick gate: a change, the requested wake-up or the quiet interval")
    func tickGate() {
        let instant = ContinuousClock.now
        var gate = TickGate(now: instant)
        #expect(gate.isDue(now: start, instant: instant), "the first round ticks")
        gate.ticked(at: instant, wakeUp: start.addingTimeInterval(30))
        #expect(!gate.isDue(now: start.addingTimeInterval(29), instant: instant + .seconds(1)))
        #expect(gate.isDue(now: start.addingTimeInterval(30), instant: instant + .seconds(1)))
        #expect(gate.isDue(now: start, instant: instant + TickGate.quietInterval))
        gate.schedulerChanged()
        #expect(gate.isDue(now: start, instant: instant))
        gate.ticked(at: instant, wakeUp: nil)
        #expect(!gate.isDue(now: start.addingTimeInterval(3600), instant: instant + .seconds(1)))
    }

    final class FakeConnection: ReusableConnection, @unchecked Sendable {
        var isBroken = false
    }

    @Test("kept connections: a working one comes back, broken ones are handed out to close, old ones expire")
    func connectionCache() {
        var cache = ConnectionCache<FakeConnection>()
        let (old, broken, fresh) = (FakeConnection(), FakeConnection(), FakeConnection())
        let instant = ContinuousClock.now
        cache.keep(old, for: "k", at: instant)
        cache.keep(broken, for: "k", at: instant)
        broken.isBroken = true
        let (taken, closing) = cache.take("k")
        #expect(taken === old && closing.count == 1 && closing[0] === broken)
        let none = cache.take("k").0
        #expect(none == nil)
        cache.keep(old, for: "k", at: instant)
        cache.keep(fresh, for: "k", at: instant + .seconds(2))
        let expired = cache.expire(olderThan: .seconds(2), at: instant + .seconds(3))
        #expect(expired.map(ObjectIdentifier.init) == [ObjectIdentifier(old)])
        cache.observers["dsn"] = broken
        let all = cache.takeAll()
        #expect(all.count == 2)
        #expect(cache.idle.isEmpty && cache.observers.isEmpty)
    }

    @Test("discovery: listed names win, a vanished database is gone until it comes back, a block runs on its interval")
    func discovery() throws {
        var discovery = DiscoveredDatabases()
        let runs = [
            discovery.startRun(0, every: .seconds(60), now: start, force: false),
            discovery.startRun(0, every: .seconds(60), now: start.addingTimeInterval(59), force: false),
            discovery.startRun(0, every: .seconds(60), now: start.addingTimeInterval(59), force: true),
        ]
        #expect(runs == [true, false, true])
        let yaml =
            "fleet: {name: t, migrations: m}\nwindows: {always: {always: true}}\ndefaults: {window: always}\ndatabases:\n  - {name: listed, tier: tenants, dsn: \"dbname=l\"}\n"
        let manifest = try #require(ManifestLoader(environment: [:]).load(files: [("/f/a.yaml", yaml)]).0)
        let found = [spec("listed", dsn: "dbname=other"), spec("found", dsn: "dbname=f")]
        let recorded = [discovery.record(0, found), discovery.record(0, found)]
        #expect(recorded == [true, false], "the same list again changes nothing")
        let (merged, vanished) = discovery.merge(into: manifest, previous: manifest.databases)
        #expect(merged.databases.map(\.dsn) == ["dbname=l", "dbname=f"])
        #expect(vanished.isEmpty)
        _ = discovery.record(0, [])
        let (shrunk, gone) = discovery.merge(into: manifest, previous: merged.databases)
        #expect(shrunk.databases.map(\.name) == ["listed"] && gone == ["found"])
        #expect(discovery.gone.keys.sorted() == ["found"])
        _ = discovery.record(0, [spec("found", dsn: "dbname=f")])
        _ = discovery.merge(into: manifest, previous: shrunk.databases)
        #expect(discovery.gone.isEmpty)
    }

    @Test("the wake signal: a signal before the wait is kept, a signal ends a wait at once, so do the ticks and a cancellation")
    func wakeSignal() async {
        let wake = WakeSignal()
        wake.signal()
        let clock = ContinuousClock()
        #expect(await clock.measure { await wake.wait() } < .seconds(5))
        let waiter = Task { await clock.measure { await wake.wait() } }
        try? await Task.sleep(for: .milliseconds(50))
        wake.signal()
        #expect(await waiter.value < .seconds(5))
        let cancelled = Task { await clock.measure { await wake.wait() } }
        cancelled.cancel()
        #expect(await cancelled.value < .seconds(5))
        wake.tick(every: .milliseconds(50))
        let ticked = await clock.measure {
            await wake.wait()
            await wake.wait()
        }
        wake.stopTicking()
        #expect(ticked < .seconds(5))
    }

    @Test("the inbox hands each item over once")
    func inbox() {
        let inbox = CompletionInbox<Int>()
        inbox.deposit(1)
        inbox.deposit(2)
        #expect(inbox.takeAll() == [1, 2])
        #expect(inbox.takeAll().isEmpty)
    }
}
