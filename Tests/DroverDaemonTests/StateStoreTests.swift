import DroverTestSupport
import Foundation
import Testing

@testable import DroverCore
@testable import DroverDaemon

/// The two state stores: a SQLite file (one droverd) and a PostgreSQL database
/// (several droverd). Every test below runs against both: same tables, same answers.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgresql
    var testDescription: String { rawValue }

    /// A fresh, empty location of this kind.
    func makeLocation() async throws -> StateLocation {
        switch self {
        case .sqlite:
            return .file(FileManager.default.temporaryDirectory.appendingPathComponent("drover-state-\(UUID().uuidString.prefix(8))/state.db").path)
        case .postgresql:
            let cluster = try await TestCluster.shared()
            return .postgresql(conninfo: cluster.conninfo(database: try await cluster.createDatabase("state")))
        }
    }
}

@Suite("State store: the same semantics in SQLite and PostgreSQL")
struct StateStoreTests {
    @Test("tier controls, pauses and failures survive closing and reopening", arguments: StoreKind.allCases)
    func tiersPausesFailures(_ kind: StoreKind) async throws {
        let location = try await kind.makeLocation()
        let store = try await StateStore.open(location)
        var production = TierControl(target: "r2", released: "r1")
        production.wavesFinished = [0: Date(timeIntervalSince1970: 1_700_000_000)]
        production.halt = TierControl.Halt(wave: "canary", failed: ["acme"], at: Date(timeIntervalSince1970: 1_700_000_100))
        try await store.save(tier: "production", production)
        try await store.save(tier: "preview", TierControl(target: "r1"))
        try await store.save(tier: "preview", TierControl(target: "r2"))  // an update, not a second row
        try await store.setPaused("acme", true)
        try await store.setPaused("globex", true)
        try await store.setPaused("globex", false)
        let failure = DatabaseRuntime.Failure(step: PlannedStep(revision: "r2", phase: .backfill), message: "division by zero", attempts: 3)
        try await store.setFailure("initech", failure)
        try await store.setFailure("acme", failure)
        try await store.setFailure("acme", nil)
        await store.close()

        let reopened = try await StateStore.open(location)
        #expect(try await reopened.tiers() == ["production": production, "preview": TierControl(target: "r2")])
        #expect(try await reopened.pausedDatabases() == ["acme"])
        #expect(try await reopened.failures() == ["initech": failure])
        await reopened.close()
    }

    @Test(
        "an intent stays until its phase ends; a completion clears intent and failure and keeps duration, history and fingerprint together",
        arguments: StoreKind.allCases)
    func intentsAndCompletion(_ kind: StoreKind) async throws {
        let store = try await StateStore.open(try await kind.makeLocation())
        defer { Task { await store.close() } }
        let at = Date(timeIntervalSince1970: 1_700_000_000.25)
        try await store.recordIntent("acme", step: PlannedStep(revision: "r1", phase: .expand), at: at)
        try await store.recordIntent("acme", step: PlannedStep(revision: "r2", phase: .expand), at: at)
        try await store.recordIntent("globex", step: PlannedStep(revision: "r2", phase: .contract), at: at)
        #expect(try await store.intents() == ["acme": PlannedStep(revision: "r2", phase: .expand), "globex": PlannedStep(revision: "r2", phase: .contract)])
        try await store.clearIntent("globex")
        try await store.setFailure("acme", DatabaseRuntime.Failure(step: PlannedStep(revision: "r2", phase: .expand), message: "x", attempts: 1))

        let snapshot = SchemaSnapshot(tables: [
            "docs": .init(name: "docs", columns: [.init(name: "id", type: "integer", defaultValue: nil, nullable: false)], indexes: [:], constraints: [:])
        ])
        let entry = HistoryEntry(
            database: "acme", revision: "r2", phase: .expand, outcome: "applied", startedAt: at, finishedAt: at.addingTimeInterval(1.5), rows: 7, error: nil,
            actor: "droverd@test", output: "done\n")
        func syncLevel() async throws -> [[String?]] {
            try await store.backend.query(kind == .sqlite ? "PRAGMA synchronous" : "SHOW synchronous_commit", [])
        }
        let levelBefore = try await syncLevel()
        if kind == .sqlite { #expect(levelBefore == [["2"]]) }  // FULL
        try await store.recordCompletion(
            "acme", step: PlannedStep(revision: "r2", phase: .expand), history: entry, expectedDuration: ("tenants/r2/expand", .milliseconds(1500)),
            fingerprint: ("r2", snapshot), at: at)
        #expect(try await store.intents().isEmpty)
        #expect(try await store.failures().isEmpty)
        #expect(try await store.expectedDurations() == ["tenants/r2/expand": .milliseconds(1500)])
        #expect(try await store.history() == [entry])
        #expect(try await store.fingerprints(at: "r2") == ["acme": snapshot])
        #expect(try await store.fingerprints(at: "r1").isEmpty)
        // The completion was not synced on its own; what follows it is as before.
        #expect(try await syncLevel() == levelBefore, "the next intent must reach the disk before its phase starts")

        // A phase found already applied leaves no history entry, and a second
        // fingerprint at the same revision replaces the first.
        try await store.recordCompletion(
            "acme", step: PlannedStep(revision: "r2", phase: .expand), history: nil, expectedDuration: ("tenants/r2/expand", .milliseconds(900)),
            fingerprint: ("r2", SchemaSnapshot(tables: [:])), at: at)
        #expect(try await store.history().count == 1)
        #expect(try await store.expectedDurations()["tenants/r2/expand"] == .milliseconds(900))
        #expect(try await store.fingerprints(at: "r2") == ["acme": SchemaSnapshot(tables: [:])])

        // The next phase's intent, recorded before the completion of the one before
        // it reached the store, stays (a restart must find it).
        try await store.recordIntent("acme", step: PlannedStep(revision: "r3", phase: .expand), at: at)
        try await store.recordCompletion(
            "acme", step: PlannedStep(revision: "r2", phase: .backfill), history: nil, expectedDuration: ("tenants/r2/backfill", .milliseconds(5)),
            fingerprint: nil, at: at)
        #expect(try await store.intents() == ["acme": PlannedStep(revision: "r3", phase: .expand)])
    }

    @Test("history comes oldest first, by database and up to a limit; the audit log counts by action", arguments: StoreKind.allCases)
    func historyAndAudit(_ kind: StoreKind) async throws {
        let store = try await StateStore.open(try await kind.makeLocation())
        defer { Task { await store.close() } }
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        for index in 0..<6 {
            try await store.appendHistory(
                HistoryEntry(
                    database: index.isMultiple(of: 2) ? "acme" : "globex", revision: "r\(index)", phase: .expand,
                    outcome: index == 5 ? "failed" : "applied", startedAt: start.addingTimeInterval(Double(index)),
                    finishedAt: start.addingTimeInterval(Double(index) + 0.5), rows: index, error: index == 5 ? "boom" : nil, actor: "op"))
        }
        #expect(try await store.history().map(\.revision) == ["r0", "r1", "r2", "r3", "r4", "r5"])
        #expect(try await store.history(database: "acme").map(\.revision) == ["r0", "r2", "r4"])
        #expect(try await store.history(limit: 2).map(\.revision) == ["r4", "r5"])
        #expect(try await store.history(database: "globex").last?.error == "boom")

        try await store.appendAudit(action: "promote", parameters: "{}", result: "ok", uid: 4_294_967_294, pid: 42, at: start)
        try await store.appendAudit(action: "promote", parameters: "{}", result: "refused", uid: nil, pid: nil, at: start)
        try await store.appendAudit(action: "pause", parameters: "{}", result: "ok", uid: 0, pid: 1, at: start)
        #expect(try await store.auditCount(action: "promote") == 2)
        #expect(try await store.auditCount(action: "retry") == 0)
    }
}

@Suite("Leader lease in a PostgreSQL state store")
struct LeaseTests {
    @Test("one instance takes the lease; another sees it held until it expires, then takes it with the next term; giving it up hands it over at once")
    func leaseLifecycle() async throws {
        let cluster = try await TestCluster.shared()
        let location = StateLocation.postgresql(conninfo: cluster.conninfo(database: try await cluster.createDatabase("lease")))
        let first = try await StateStore.open(location)
        let second = try await StateStore.open(location)
        defer {
            Task {
                await first.close()
                await second.close()
            }
        }
        let a = InstanceIdentity(id: "a", host: "host-a", pid: 1)
        let b = InstanceIdentity(id: "b", host: "host-b", pid: 2)

        // Leases long enough that a loaded machine cannot let one run out between
        // two steps; the expiry comes from a renewal with a short lease instead.
        let taken = try #require(try await first.takeOrRenewLease(fleet: "f", instance: a, lease: .seconds(60)))
        #expect(taken.instance == "a" && taken.term == 1)
        let seenByB = try await second.takeOrRenewLease(fleet: "f", instance: b, lease: .seconds(60))
        #expect(seenByB?.instance == "a", "a holds an unexpired lease")
        let renewed = try await first.takeOrRenewLease(fleet: "f", instance: a, lease: .seconds(60))
        #expect(renewed == taken, "a renewal keeps term and since")
        #expect(try await second.takeOrRenewLease(fleet: "other", instance: b, lease: .seconds(60))?.instance == "b", "each fleet has its own lease")

        #expect(try await first.takeOrRenewLease(fleet: "f", instance: a, lease: .milliseconds(300)) == taken)
        try await Task.sleep(for: .milliseconds(600))
        let takeover = try await second.takeOrRenewLease(fleet: "f", instance: b, lease: .seconds(60))
        #expect(takeover?.instance == "b" && takeover?.term == 2, "an expired lease goes to the next instance that asks")
        #expect(try await first.takeOrRenewLease(fleet: "f", instance: a, lease: .seconds(60))?.instance == "b", "the old holder cannot renew it back")

        try await second.releaseLease(fleet: "f", instance: b)
        #expect(try await first.takeOrRenewLease(fleet: "f", instance: a, lease: .seconds(60))?.term == 3, "a lease given up is free at once")

        try await first.heartbeat(a, role: "leader")
        try await second.heartbeat(b, role: "follower")
        try await second.heartbeat(b, role: "stopped")
        let instances = try await first.instances()
        #expect(instances.map(\.id) == ["a", "b"] && instances.map(\.role) == ["leader", "stopped"])
    }

    @Test("instances racing for an expired lease: exactly one wins")
    func raceForTheLease() async throws {
        let cluster = try await TestCluster.shared()
        let location = StateLocation.postgresql(conninfo: cluster.conninfo(database: try await cluster.createDatabase("lease")))
        let stores = try await (0..<5).asyncMap { _ in try await StateStore.open(location) }
        defer { Task { for store in stores { await store.close() } } }
        for round in 0..<20 {
            let winners = try await withThrowingTaskGroup(of: String?.self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask {
                        try await store.takeOrRenewLease(
                            fleet: "f\(round)", instance: InstanceIdentity(id: "i\(index)", host: "h", pid: Int32(index)), lease: .seconds(30))?.instance
                    }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(Set(winners).count == 1 && winners.allSatisfy { $0 != nil }, "round \(round): every instance is told the same holder: \(winners)")
        }
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
