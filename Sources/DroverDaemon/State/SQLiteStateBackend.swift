import Foundation
import NIOPosix
import Synchronization

/// The state in one SQLite file (the default): WAL with `synchronous=FULL`, so a
/// decision the daemon acted on survives a power cut; one daemon per file, held by
/// a `flock`. All SQLite work runs on one dedicated thread.
final class SQLiteStateBackend: StateBackend {
    let location: String
    private let database: Mutex<SQLiteBox>
    private let thread: NIOThreadPool
    private let lock: StateFileLock

    /// Opens (creating) the state file; fails at once when another droverd has it.
    init(path: String) throws(StateStoreError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        }
        lock = try StateFileLock(statePath: path)
        let sqlite = try SQLite(path: path)
        try sqlite.execute(Self.schema)
        // State files from before history kept a helper program's output.
        if !(try sqlite.query("SELECT name FROM pragma_table_info('history')")).contains(where: { $0.first == "output" }) {
            try sqlite.execute("ALTER TABLE history ADD COLUMN output TEXT")
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
        CREATE TABLE IF NOT EXISTS databases (name TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0, failure TEXT);
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

    func query(_ sql: String, _ parameters: [String?]) async throws(StateStoreError) -> [[String?]] {
        try await run { sqlite throws(StateStoreError) in try sqlite.query(sql, parameters) }
    }

    func transaction(_ statements: [StateStatement], durable: Bool) async throws(StateStoreError) {
        _ = try await run { sqlite throws(StateStoreError) in
            // In WAL mode a NORMAL commit is not synced; the next FULL one syncs the
            // log, this commit's frames with it.
            if !durable { try sqlite.execute("PRAGMA synchronous = NORMAL") }
            var failure: StateStoreError?
            do throws(StateStoreError) {
                try sqlite.transaction { () throws(StateStoreError) in
                    for statement in statements { try sqlite.query(statement.sql, statement.parameters) }
                }
            } catch {
                failure = error
            }
            if !durable { try sqlite.execute("PRAGMA synchronous = FULL") }
            if let failure { throw failure }
            return []
        }
    }

    /// Releases the state file for another daemon (at shutdown).
    func close() async { lock.release() }

    private func run(_ work: @escaping @Sendable (SQLite) throws(StateStoreError) -> [[String?]]) async throws(StateStoreError) -> [[String?]] {
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

/// The SQLite handle; unchecked Sendable because only the backend's mutex reaches it.
private struct SQLiteBox: @unchecked Sendable {
    let sqlite: SQLite
    init(_ sqlite: SQLite) { self.sqlite = sqlite }
}
