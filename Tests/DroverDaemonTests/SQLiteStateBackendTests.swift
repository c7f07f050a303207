import DroverTestSupport
import Foundation
import Testing

@testable import DroverCore
@testable import DroverDaemon

/// How the SQLite state store writes: statements compiled once, transactions that
/// wait while the store's thread is busy committed together, the intents of the
/// phases that start together in one durable commit.
@Suite("SQLite state store: compiled statements, group commit")
struct SQLiteStateBackendTests {
    static func freshPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("drover-sqlite-\(UUID().uuidString.prefix(8))/state.db").path
    }

    /// Keeps the store's one thread busy for a while (a recursive count), so that
    /// what is asked for meanwhile waits in the queue.
    static func occupy(_ backend: SQLiteStateBackend) -> Task<Void, Never> {
        Task { _ = try? await backend.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c", []) }
    }

    static func intent(_ name: String) -> StateStatement {
        StateStatement("INSERT INTO intents (database, revision, phase, started_at) VALUES (?, 'r1', 'expand', 'now')", [name])
    }

    @Test("a statement is compiled once and reused with new parameters; past the limit of kept ones, texts are compiled each time and still answer")
    func statementsCompiledOnce() throws {
        let sqlite = try SQLite(path: FileManager.default.temporaryDirectory.appendingPathComponent("drover-sqlite-\(UUID().uuidString.prefix(8)).db").path)
        for value in 0..<10 {
            #expect(try sqlite.query("SELECT ? + 1", [String(value)]) == [[String(value + 1)]])
        }
        #expect(sqlite.compilations == 1)
        // A parameter left unbound after a use with one reads NULL, not the old value.
        #expect(try sqlite.query("SELECT ? IS NULL", [nil]) == [["1"]])
        for index in 0..<(SQLite.preparedLimit + 6) {
            #expect(try sqlite.query("SELECT \(index)") == [[String(index)]])
        }
        let compiled = sqlite.compilations
        #expect(try sqlite.query("SELECT \(SQLite.preparedLimit + 5)") == [[String(SQLite.preparedLimit + 5)]])
        #expect(sqlite.compilations == compiled + 1, "a text past the limit is not kept")
        #expect(try sqlite.query("SELECT 0") == [["0"]])
        #expect(sqlite.compilations == compiled + 1, "a kept text is not compiled again")
    }

    @Test("transactions asked for while the store's thread is busy commit together, in one transaction")
    func groupCommit() async throws {
        let backend = try SQLiteStateBackend(path: Self.freshPath())
        let busy = Self.occupy(backend)
        try await Task.sleep(for: .milliseconds(30))
        let before = backend.committedTransactions
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask { try await backend.transaction([Self.intent("db\(index)")], durable: index.isMultiple(of: 2)) }
            }
            try await group.waitForAll()
        }
        await busy.value
        #expect(try await backend.query("SELECT count(*) FROM intents", []) == [["20"]])
        #expect(backend.committedTransactions - before < 5, "\(backend.committedTransactions - before) commits for 20 transactions")
        // What durable members asked for holds after a merged commit.
        #expect(try await backend.query("PRAGMA synchronous", []) == [["2"]])
    }

    @Test("a transaction that fails among others waiting fails alone; the others commit")
    func failureInAGroupStaysWithItsCaller() async throws {
        let backend = try SQLiteStateBackend(path: Self.freshPath())
        let busy = Self.occupy(backend)
        try await Task.sleep(for: .milliseconds(30))
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<6 {
                group.addTask {
                    let statements =
                        index == 3
                        ? [Self.intent("bad"), StateStatement("INSERT INTO no_such_table VALUES (1)")]
                        : [Self.intent("db\(index)")]
                    do {
                        try await backend.transaction(statements, durable: true)
                        return (index, true)
                    } catch {
                        return (index, false)
                    }
                }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        await busy.value
        #expect(outcomes == [0: true, 1: true, 2: true, 3: false, 4: true, 5: true])
        let names = try await backend.query("SELECT database FROM intents ORDER BY database", []).map { $0[0] ?? "" }
        #expect(names == ["db0", "db1", "db2", "db4", "db5"], "the failed one left nothing, not even its first statement")
    }

    @Test("the intents of phases that start in one round are one durable commit")
    func intentsOfARoundTogether() async throws {
        let fixture = try await DaemonFixture.make(
            tenants: ["a", "b", "c", "d", "e"],
            waves: """
                waves:
                  tenants:
                    - {name: all, select: {all: true}}
                """)
        defer { fixture.remove() }
        let (fleet, loop) = try await fixture.start()
        let backend = try #require(await fleet.store.backend as? SQLiteStateBackend)
        try await waitFor(fleet, "preview waiting for its release") { $0.database("preview")?.state == .waitingRelease }
        _ = try await fleet.promote("r2")
        try await waitFor(fleet, "production expanded") { $0.database("production")?.expanded == "r2" }
        let events = await fleet.events()
        let durableBefore = backend.durableCommits
        // The first round of the tenants' wave: max_per_server (2) expands at once.
        let firstRound = Task { () -> (names: [String], durableCommits: Int) in
            var names: [String] = []
            for await event in events where event.kind == "start" {
                names.append(event.database ?? "")
                if names.count == 2 { break }
            }
            return (names, backend.durableCommits - durableBefore)
        }
        _ = try await fleet.promote("r2", to: "tenants")
        let (started, durableCommits) = await firstRound.value
        #expect(started.allSatisfy { $0.hasPrefix("tenant-") })
        #expect(durableCommits == 1, "\(durableCommits) durable commits for the intents of \(started)")
        try await waitFor(fleet, "every tenant expanded") { status in
            status.databases.filter { $0.tier == "tenants" }.allSatisfy { $0.expanded == "r2" }
        }
        await fleet.stop()
        await loop.value
    }
}
