import Foundation
import NIOPosix
import Synchronization

/// The state in one SQLite file (the default): WAL with `synchronous=FULL`, so a
/// decision the daemon acted on survives a power cut; one daemon per file, held by
/// a `flock`. All SQLite work runs on one dedicated thread.
///
/// Transactions asked for while one is being written go into the next one together
/// (group commit): during a rollout every lane writes an intent and a completion
/// per phase, and one commit (one sync) for all that waited costs the thread, the
/// disk and the waiting phases less than one each.
final class SQLiteStateBackend: StateBackend {
    let location: String
    private let database: Mutex<SQLiteBox>
    private let thread: NIOThreadPool
    private let lock: StateFileLock
    private let commits = Mutex(CommitQueue())

    /// Opens (creating) the state file; fails at once when another droverd has it.
    init(path: String) throws(StateStoreError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        }
        lock = try StateFileLock(statePath: path)
        let sqlite = try SQLite(path: path)
        try sqlite.execute(Self.schema)
        // State files from before history kept a helper program's output, or a pause its reason.
        if !(try sqlite.query("SELECT name FROM pragma_table_info('history')")).contains(where: { $0.first == "output" }) {
            try sqlite.execute("ALTER TABLE history ADD COLUMN output TEXT")
        }
        if !(try sqlite.query("SELECT name FROM pragma_table_info('databases')")).contains(where: { $0.first == "pause_reason" }) {
            try sqlite.execute("ALTER TABLE databases ADD COLUMN pause_reason TEXT")
        }
        location = path
        database = Mutex(SQLiteBox(sqlite))
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    deinit { thread.shutdownGracefully { _ in } }

    static let schema = """
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = FULL;
        CREATE TABLE IF NOT EXISTS tiers (tier TEXT PRIMARY KEY, control TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS databases (name TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0, failure TEXT, pause_reason TEXT);
        CREATE TABLE IF NOT EXISTS expected_durations (key TEXT PRIMARY KEY, milliseconds INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS intents (database TEXT PRIMARY KEY, revision TEXT NOT NULL, phase TEXT NOT NULL, started_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS history (
            id INTEGER PRIMARY KEY, database TEXT NOT NULL, revision TEXT NOT NULL, phase TEXT NOT NULL,
            outcome TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL, rows INTEGER NOT NULL,
            error TEXT, actor TEXT NOT NULL, output TEXT);
        CREATE TABLE IF NOT EXISTS audit (
            id INTEGER PRIMARY KEY, at TEXT NOT NULL, uid INTEGER, pid INTEGER, action TEXT NOT NULL,
            parameters TEXT NOT NULL, result TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS fingerprints (
            database TEXT NOT NULL, revision TEXT NOT NULL, digest TEXT NOT NULL, snapshot TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (database, revision));
        """

    nonisolated(nonsending) func query(_ sql: String, _ parameters: [String?]) async throws(StateStoreError) -> [[String?]] {
        try await run { sqlite throws(StateStoreError) in try sqlite.query(sql, parameters) }
    }

    nonisolated(nonsending) func transaction(_ statements: [StateStatement], durable: Bool) async throws(StateStoreError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, StateStoreError>, Never>) in
            let startsDrain = commits.withLock { queue in
                queue.waiting.append(PendingTransaction(statements: statements, durable: durable, continuation: continuation))
                defer { queue.draining = true }
                return !queue.draining
            }
            if startsDrain { thread.submit { [self] state in drainCommits(threadActive: state == .active) } }
        }
        try result.get()
    }

    /// On the store's thread: commits what waits, in one transaction, until nothing
    /// does. Should that transaction fail, each one is tried alone, so that one
    /// caller's bad statement fails only that caller.
    private func drainCommits(threadActive: Bool) {
        while true {
            let batch = commits.withLock { queue in
                defer { queue.waiting = [] }
                if queue.waiting.isEmpty { queue.draining = false }
                return queue.waiting
            }
            guard !batch.isEmpty else { return }
            guard threadActive else {
                for pending in batch { pending.continuation.resume(returning: .failure(.statementFailed("the state store's thread is shut down"))) }
                continue
            }
            let results = database.withLock { box in
                let together = box.commit(batch.flatMap(\.statements), durable: batch.contains(where: \.durable))
                if case .failure = together, batch.count > 1 {
                    return batch.map { box.commit($0.statements, durable: $0.durable) }
                }
                return batch.map { _ in together }
            }
            for (pending, result) in zip(batch, results) { pending.continuation.resume(returning: result) }
        }
    }

    /// Transactions committed so far (all, and synced ones), for tests.
    var committedTransactions: Int { database.withLock { $0.committed } }
    var durableCommits: Int { database.withLock { $0.committedDurably } }

    /// Releases the state file for another daemon (at shutdown).
    func close() async { lock.release() }

    nonisolated(nonsending) private func run(
        _ work: @escaping @Sendable (SQLite) throws(StateStoreError) -> [[String?]]
    ) async throws(StateStoreError) -> [[String?]] {
        do {
            return try await thread.runIfActive { [self] in
                try database.withLock { box in try work(box.sqlite) }
            }
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw .statementFailed("the state store's thread is shut down")
        }
    }
}

/// Transactions waiting for the next group commit, and whether a drain is on its way.
private struct CommitQueue {
    var waiting: [PendingTransaction] = []
    var draining = false
}

private struct PendingTransaction: Sendable {
    let statements: [StateStatement]
    let durable: Bool
    let continuation: CheckedContinuation<Result<Void, StateStoreError>, Never>
}

/// The SQLite handle; unchecked Sendable because only the backend's mutex reaches it.
private struct SQLiteBox: @unchecked Sendable {
    let sqlite: SQLite
    var committed = 0
    var committedDurably = 0
    init(_ sqlite: SQLite) { self.sqlite = sqlite }

    /// `statements` in one transaction, synced unless not `durable`.
    mutating func commit(_ statements: [StateStatement], durable: Bool) -> Result<Void, StateStoreError> {
        do throws(StateStoreError) {
            // In WAL mode a NORMAL commit is not synced; the next FULL one syncs the
            // log, this commit's frames with it.
            if !durable { try sqlite.query("PRAGMA synchronous = NORMAL") }
            var failure: StateStoreError?
            do throws(StateStoreError) {
                try sqlite.transaction { () throws(StateStoreError) in
                    for statement in statements { try sqlite.query(statement.sql, statement.parameters) }
                }
                committed += 1
                if durable { committedDurably += 1 }
            } catch {
                failure = error
            }
            if !durable { try sqlite.query("PRAGMA synchronous = FULL") }
            if let failure { throw failure }
            return .success(())
        } catch {
            return .failure(error)
        }
    }
}
