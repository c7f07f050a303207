import DroverCore
@testable import DroverDaemon
import DroverTestSupport
import Foundation
import Logging
import Testing

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
        #expect(await fleet.pendingFingerprints.isEmpty)
        #expect(await fleet.fingerprinting == nil)
        await store.close()
    }
}
