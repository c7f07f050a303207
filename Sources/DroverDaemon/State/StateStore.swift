import DroverCore
import Foundation
import NIOPosix
import Synchronization

/// The daemon's durable state in SQLite (SPEC §6, issue: durable state): tier
/// targets, releases, pauses, halts, wave progress, failures, expected durations,
/// phase intents, history, fingerprints and the audit log. WAL with
/// `synchronous=FULL`: a decision the daemon acted on survives a power cut. All
/// SQLite work runs on one dedicated thread, never on the cooperative pool.
public final class StateStore: Sendable {
    public let path: String
    private let database: Mutex<SQLiteBox>
    private let thread: NIOThreadPool
    private let lock: StateFileLock

    /// Opens (creating) the state file; fails at once when another droverd has it.
    public init(path: String) throws(StateStoreError) {
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
        self.path = path
        database = Mutex(SQLiteBox(sqlite))
        thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
    }

    deinit { thread.shutdownGracefully { _ in } }

    /// Releases the state file for another daemon (at shutdown).
    public func close() { lock.release() }

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

    // MARK: Tiers and databases

    public func tiers() async throws -> [String: TierControl] {
        let rows = try await run { try $0.query("SELECT tier, control FROM tiers") }
        return try Dictionary(uniqueKeysWithValues: rows.map { row in (row[0] ?? "", try Self.decode(TierControl.self, row[1])) })
    }

    public func save(tier: String, _ control: TierControl) async throws {
        let json = try Self.encode(control)
        try await run { try $0.query("INSERT INTO tiers (tier, control) VALUES (?, ?) ON CONFLICT (tier) DO UPDATE SET control = excluded.control", [tier, json]) }
    }

    public func pausedDatabases() async throws -> Set<String> {
        Set(try await run { try $0.query("SELECT name FROM databases WHERE paused = 1") }.compactMap { $0[0] })
    }

    public func setPaused(_ name: String, _ paused: Bool) async throws {
        try await run { try $0.query("INSERT INTO databases (name, paused) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused", [name, paused ? "1" : "0"]) }
    }

    public func failures() async throws -> [String: DatabaseRuntime.Failure] {
        let rows = try await run { try $0.query("SELECT name, failure FROM databases WHERE failure IS NOT NULL") }
        return try Dictionary(uniqueKeysWithValues: rows.map { row in (row[0] ?? "", try Self.decode(DatabaseRuntime.Failure.self, row[1])) })
    }

    public func setFailure(_ name: String, _ failure: DatabaseRuntime.Failure?) async throws {
        let json = try failure.map(Self.encode)
        try await run { try $0.query("INSERT INTO databases (name, failure) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET failure = excluded.failure", [name, json]) }
    }

    public func expectedDurations() async throws -> [String: Duration] {
        let rows = try await run { try $0.query("SELECT key, milliseconds FROM expected_durations") }
        return Dictionary(uniqueKeysWithValues: rows.compactMap { row in
            guard let key = row[0], let value = row[1].flatMap({ Int64($0) }) else { return nil }
            return (key, Duration.milliseconds(value))
        })
    }

    // MARK: Intents

    /// Written before a phase starts: after a crash the database's own tracking table
    /// says what became of it.
    public func recordIntent(_ name: String, step: PlannedStep, at date: Date) async throws {
        try await run { try $0.query("INSERT INTO intents (database, revision, phase, started_at) VALUES (?, ?, ?, ?) ON CONFLICT (database) DO UPDATE SET revision = excluded.revision, phase = excluded.phase, started_at = excluded.started_at", [name, step.revision, step.phase.rawValue, Self.time(date)]) }
    }

    public func clearIntent(_ name: String) async throws {
        try await run { try $0.query("DELETE FROM intents WHERE database = ?", [name]) }
    }

    public func intents() async throws -> [String: PlannedStep] {
        let rows = try await run { try $0.query("SELECT database, revision, phase FROM intents") }
        return Dictionary(uniqueKeysWithValues: rows.compactMap { row in
            guard let name = row[0], let revision = row[1], let phase = row[2].flatMap(Phase.init) else { return nil }
            return (name, PlannedStep(revision: revision, phase: phase))
        })
    }

    /// What a phase that succeeded leaves in the state store, in one transaction:
    /// the intent cleared, the failure forgotten, the duration that the window gate
    /// expects next time, the history entry (nil when it was found applied) and the
    /// schema fingerprint.
    public func recordCompletion(_ name: String, history entry: HistoryEntry?, expectedDuration: (key: String, duration: Duration),
                                 fingerprint: (revision: String, snapshot: SchemaSnapshot)?, at date: Date) async throws {
        let snapshot = try fingerprint.map { ($0.revision, $0.snapshot.digest, try Self.encode($0.snapshot)) }
        try await run { sqlite in
            try sqlite.transaction { () throws(StateStoreError) in
                try sqlite.query("DELETE FROM intents WHERE database = ?", [name])
                try sqlite.query("UPDATE databases SET failure = NULL WHERE name = ? AND failure IS NOT NULL", [name])
                try sqlite.query("INSERT INTO expected_durations (key, milliseconds) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET milliseconds = excluded.milliseconds",
                                 [expectedDuration.key, String(expectedDuration.duration.milliseconds)])
                if let entry { try Self.insertHistory(entry, sqlite) }
                if let (revision, digest, json) = snapshot {
                    try sqlite.query("INSERT INTO fingerprints (database, revision, digest, snapshot, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (database, revision) DO UPDATE SET digest = excluded.digest, snapshot = excluded.snapshot, at = excluded.at",
                                     [name, revision, digest, json, Self.time(date)])
                }
            }
        }
    }

    // MARK: History and audit

    public func appendHistory(_ entry: HistoryEntry) async throws {
        try await run { try Self.insertHistory(entry, $0) }
    }

    private static func insertHistory(_ entry: HistoryEntry, _ sqlite: SQLite) throws(StateStoreError) {
        try sqlite.query(
            "INSERT INTO history (database, revision, phase, outcome, started_at, finished_at, rows, error, actor, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [entry.database, entry.revision, entry.phase.rawValue, entry.outcome, Self.time(entry.startedAt), Self.time(entry.finishedAt), String(entry.rows), entry.error, entry.actor, entry.output])
    }

    public func history(database: String? = nil, limit: Int = 1000) async throws -> [HistoryEntry] {
        let rows = try await run { sqlite in
            try sqlite.query("""
                SELECT database, revision, phase, outcome, started_at, finished_at, rows, error, actor, output FROM history
                 WHERE ? IS NULL OR database = ? ORDER BY id DESC LIMIT ?
                """, [database, database, String(limit)])
        }
        return rows.reversed().compactMap { row in
            guard let name = row[0], let revision = row[1], let phase = row[2].flatMap(Phase.init), let outcome = row[3],
                  let started = row[4].flatMap(Self.date), let finished = row[5].flatMap(Self.date) else { return nil }
            return HistoryEntry(database: name, revision: revision, phase: phase, outcome: outcome, startedAt: started, finishedAt: finished,
                                rows: row[6].flatMap { Int($0) } ?? 0, error: row[7], actor: row[8] ?? "", output: row[9])
        }
    }

    public func appendAudit(action: String, parameters: String, result: String, uid: UInt32?, pid: Int32?, at date: Date) async throws {
        try await run { try $0.query("INSERT INTO audit (at, uid, pid, action, parameters, result) VALUES (?, ?, ?, ?, ?, ?)",
                                     [Self.time(date), uid.map(String.init), pid.map(String.init), action, parameters, result]) }
    }

    public func auditCount(action: String) async throws -> Int {
        Int(try await run { try $0.query("SELECT count(*) FROM audit WHERE action = ?", [action]) }.first?.first??.description ?? "0") ?? 0
    }

    // MARK: Fingerprints

    /// Snapshots per database, at `revision`.
    public func fingerprints(at revision: String) async throws -> [String: SchemaSnapshot] {
        let rows = try await run { try $0.query("SELECT database, snapshot FROM fingerprints WHERE revision = ?", [revision]) }
        return try Dictionary(uniqueKeysWithValues: rows.map { ($0[0] ?? "", try Self.decode(SchemaSnapshot.self, $0[1])) })
    }

    // MARK: Plumbing

    @discardableResult
    private func run<T: Sendable>(_ work: @escaping @Sendable (SQLite) throws -> T) async throws -> T {
        try await thread.runIfActive { [self] in
            try database.withLock { box in try work(box.sqlite) }
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String?) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data((text ?? "").utf8))
    }

    static func time(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    static func date(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// The SQLite handle; unchecked Sendable because only the store's mutex reaches it.
private struct SQLiteBox: @unchecked Sendable {
    let sqlite: SQLite
    init(_ sqlite: SQLite) { self.sqlite = sqlite }
}

/// One phase run, as `droverctl history` shows it.
public struct HistoryEntry: Sendable, Hashable, Codable {
    public var database: String
    public var revision: String
    public var phase: Phase
    /// `applied`, `failed`, `cancelled`, `stamped`, `reverted`, ...
    public var outcome: String
    public var startedAt: Date
    public var finishedAt: Date
    public var rows: Int
    public var error: String?
    public var actor: String
    /// What a helper program (Alembic) printed while running the phase.
    public var output: String?

    public init(database: String, revision: String, phase: Phase, outcome: String, startedAt: Date, finishedAt: Date, rows: Int, error: String?, actor: String, output: String? = nil) {
        self.output = output
        self.database = database
        self.revision = revision
        self.phase = phase
        self.outcome = outcome
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.rows = rows
        self.error = error
        self.actor = actor
    }
}
