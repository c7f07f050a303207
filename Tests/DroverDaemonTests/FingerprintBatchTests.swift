import DroverCore
import DroverTestSupport
import Foundation
import Logging
import Testing

@testable import DroverDaemon

@Suite("Schema tenants' fingerprints in batches")
struct FingerprintBatchTests {
    @Test("a queued fingerprint is read before its database's next phase may start, with the others of its database")
    func takenBeforeTheNextPhase() async throws {
        let fixture = try await DaemonFixture.make()
        defer { fixture.remove() }
        let definition = try FleetDefinition.load(manifestDirectory: fixture.manifestDirectory).get()
        let store = try StateStore(path: definition.statePath())
        let fleet = try await Fleet(definition: definition, store: store, logger: Logger(label: "droverd-test"))
        _ = try await fixture.cluster.run("CREATE TABLE acme.marker (id int); CREATE TABLE globex.other (id int)", database: fixture.databases["shared"]!)
        let acme = try #require(await fleet.scheduler.database(named: "tenant-acme"))
        let globex = try #require(await fleet.scheduler.database(named: "tenant-globex"))
        await fleet.queueFingerprint(of: acme, revision: "r1")
        await fleet.queueFingerprint(of: globex, revision: "r1")

        await fleet.fingerprintTaken(of: acme)
        let fingerprints = try await store.fingerprints(at: "r1")
        #expect(fingerprints["tenant-acme"]?.tables.keys.sorted() == ["marker"])
        #expect(fingerprints["tenant-globex"]?.tables.keys.sorted() == ["other"])  // in the same batch
        #expect(await fleet.fingerprints.pending.isEmpty)
        #expect(await fleet.fingerprinting == nil)
        await store.close()
    }

    @Test(
        "a database's batch waits until its phases were quiet for a second, or its first fingerprint waited a minute; one that someone waits for is read at once"
    )
    func batchesGather() async throws {
        #expect(!FingerprintQueue.batchDue(waited: .zero, quietFor: .zero, databaseBusy: false))
        #expect(!FingerprintQueue.batchDue(waited: .seconds(5), quietFor: .milliseconds(999), databaseBusy: false), "a phase ended less than a second ago")
        #expect(FingerprintQueue.batchDue(waited: .seconds(1), quietFor: .seconds(1), databaseBusy: false))
        #expect(!FingerprintQueue.batchDue(waited: .seconds(59), quietFor: .seconds(59), databaseBusy: true))
        #expect(FingerprintQueue.batchDue(waited: .seconds(60), quietFor: .zero, databaseBusy: true))

        let fixture = try await DaemonFixture.make()
        defer { fixture.remove() }
        let definition = try FleetDefinition.load(manifestDirectory: fixture.manifestDirectory).get()
        let store = try StateStore(path: definition.statePath())
        let fleet = try await Fleet(definition: definition, store: store, logger: Logger(label: "droverd-test"))
        let acme = try #require(await fleet.scheduler.database(named: "tenant-acme"))
        let globex = try #require(await fleet.scheduler.database(named: "tenant-globex"))
        await fleet.queueFingerprint(of: acme, revision: "r1")
        await fleet.fingerprintDue()
        #expect(await fleet.fingerprinting == nil)  // one young fingerprint: not yet
        #expect(await fleet.fingerprints.pending.values.map(\.count) == [1])

        await fleet.setPendingFingerprintsSince(.now - .seconds(2))
        await fleet.queueFingerprint(of: globex, revision: "r1")  // joins the batch, its phase just ended
        await fleet.fingerprintDue()
        #expect(await fleet.fingerprinting == nil, "the database's phases were not quiet for a second")
        await fleet.setPendingFingerprintsSince(.now - .seconds(2))
        await fleet.pretendRunning("tenant-globex")  // another phase of the database runs
        await fleet.fingerprintDue()
        #expect(await fleet.fingerprinting == nil, "not beside the database's running phases")
        await fleet.pretendRunning(nil)
        await fleet.fingerprintDue()
        #expect(await fleet.fingerprinting?.names == ["tenant-acme", "tenant-globex"])
        await fleet.fingerprintsSettled()
        #expect(try await store.fingerprints(at: "r1").keys.sorted() == ["tenant-acme", "tenant-globex"])

        await fleet.queueFingerprint(of: acme, revision: "r2")
        await fleet.fingerprintTaken(of: acme)  // a phase waits: read without the delay
        #expect(try await store.fingerprints(at: "r2").keys.sorted() == ["tenant-acme"])
        await store.close()
    }
}

@Test("a batch takes at most its limit, key by key; the rest stays queued for the next")
func batchLimit() {
    var pending = ["a": ["a1": "r1", "a2": "r1", "a3": "r2"], "b": ["b1": "r1", "b2": "r1"]]
    let first = FingerprintQueue.takeBatch(from: &pending, keys: ["b", "a"], limit: 4)
    #expect(first["a"]?.map(\.name) == ["a1", "a2", "a3"] && first["b"]?.map(\.name) == ["b1"])
    #expect(pending == ["b": ["b2": "r1"]])
    let second = FingerprintQueue.takeBatch(from: &pending, keys: ["a", "b"], limit: 4)
    #expect(second.mapValues { $0.map(\.name) } == ["b": ["b2"]])
    #expect(pending.isEmpty)
    #expect(FingerprintQueue.batchLimit >= FingerprintQueue.chunk)
}

extension Fleet {
    func setPendingFingerprintsSince(_ instant: ContinuousClock.Instant) {
        for key in fingerprints.queued.keys { fingerprints.queued[key] = (instant, instant) }
    }

    /// A phase of `name` in flight, as far as the fingerprint batches can tell; `nil`: none.
    func pretendRunning(_ name: String?) {
        running = name.map { [$0: Task {}] } ?? [:]
    }
}
