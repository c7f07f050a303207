import DroverCore
import Foundation

/// The daemon's durable state (docs/states.md): tier targets, releases, pauses, halts,
/// wave progress, failures, expected durations, phase intents, history,
/// fingerprints and the audit log. The same tables and semantics in a SQLite file
/// (one droverd) or a PostgreSQL database (several droverd, one leading); the
/// backend runs the SQL off the cooperative pool.
public final class StateStore: Sendable {
    let backend: any StateBackend

    /// The file path, or the state database's conninfo without its password.
    public var path: String { backend.location }

    /// Opens (creating) a SQLite state file; fails at once when another droverd has it.
    public convenience init(path: String) throws(StateStoreError) {
        self.init(backend: try SQLiteStateBackend(path: path))
    }

    init(backend: any StateBackend) { self.backend = backend }

    /// Opens the store `fleet.state` names: a file, or a shared PostgreSQL database.
    public static func open(_ location: StateLocation) async throws(StateStoreError) -> StateStore {
        switch location {
        case .file(let path): try StateStore(path: path)
        case .postgresql(let conninfo): StateStore(backend: try await PostgresStateBackend.open(conninfo: conninfo))
        }
    }

    /// Whether several droverd may share this store (and elect a leader).
    public var isShared: Bool { backend is PostgresStateBackend }

    /// Releases the state for another daemon and closes connections (at shutdown).
    public func close() async { await backend.close() }

    // MARK: Tiers and databases

    public func tiers() async throws -> [String: TierControl] {
        let rows = try await backend.query("SELECT tier, control FROM tiers", [])
        return try Dictionary(uniqueKeysWithValues: rows.map { row in (row[0] ?? "", try Self.decode(TierControl.self, row[1])) })
    }

    public func save(tier: String, _ control: TierControl) async throws {
        let json = try Self.encode(control)
        _ = try await backend.query(
            "INSERT INTO tiers (tier, control) VALUES (?, ?) ON CONFLICT (tier) DO UPDATE SET control = excluded.control", [tier, json])
    }

    public func pausedDatabases() async throws -> Set<String> {
        Set(try await backend.query("SELECT name FROM databases WHERE paused = 1", []).compactMap { $0[0] })
    }

    /// `reason`: what the operator said (`droverctl cancel`); cleared with the pause.
    public func setPaused(_ name: String, _ paused: Bool, reason: String? = nil) async throws {
        _ = try await backend.query(
            "INSERT INTO databases (name, paused, pause_reason) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, pause_reason = excluded.pause_reason",
            [name, paused ? "1" : "0", paused ? reason : nil])
    }

    /// Why paused databases are paused, where an operator said.
    public func pauseReasons() async throws -> [String: String] {
        let rows = try await backend.query("SELECT name, pause_reason FROM databases WHERE paused = 1 AND pause_reason IS NOT NULL", [])
        return Dictionary(rows.compactMap { row in row[0].flatMap { name in row[1].map { (name, $0) } } }, uniquingKeysWith: { first, _ in first })
    }

    public func failures() async throws -> [String: DatabaseRuntime.Failure] {
        let rows = try await backend.query("SELECT name, failure FROM databases WHERE failure IS NOT NULL", [])
        return try Dictionary(uniqueKeysWithValues: rows.map { row in (row[0] ?? "", try Self.decode(DatabaseRuntime.Failure.self, row[1])) })
    }

    public func setFailure(_ name: String, _ failure: DatabaseRuntime.Failure?) async throws {
        let json = try failure.map(Self.encode)
        _ = try await backend.query(
            "INSERT INTO databases (name, failure) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET failure = excluded.failure", [name, json])
    }

    public func expectedDurations() async throws -> [String: Duration] {
        let rows = try await backend.query("SELECT key, milliseconds FROM expected_durations", [])
        return Dictionary(
            uniqueKeysWithValues: rows.compactMap { row in
                guard let key = row[0], let value = row[1].flatMap({ Int64($0) }) else { return nil }
                return (key, Duration.milliseconds(value))
            })
    }

    // MARK: Intents

    /// Written before a phase starts: after a crash the database's own tracking table
    /// says what became of it.
    public func recordIntent(_ name: String, step: PlannedStep, at date: Date) async throws {
        try await recordIntents([(name, step)], at: date)
    }

    /// The intents of the phases that start together, in one durable transaction.
    public func recordIntents(_ intents: [(name: String, step: PlannedStep)], at date: Date) async throws {
        try await recordRound(ends: [], intents: intents, at: date)
    }

    public func clearIntent(_ name: String) async throws {
        _ = try await backend.query("DELETE FROM intents WHERE database = ?", [name])
    }

    public func intents() async throws -> [String: PlannedStep] {
        let rows = try await backend.query("SELECT database, revision, phase FROM intents", [])
        return Dictionary(
            uniqueKeysWithValues: rows.compactMap { row in
                guard let name = row[0], let revision = row[1], let phase = row[2].flatMap(Phase.init) else { return nil }
                return (name, PlannedStep(revision: revision, phase: phase))
            })
    }

    /// What a phase that succeeded leaves in the state store (`recordRound`).
    public func recordCompletion(
        _ name: String, step: PlannedStep, history entry: HistoryEntry?, expectedDuration: (key: String, duration: Duration),
        fingerprint: (revision: String, snapshot: SchemaSnapshot)?, at date: Date
    ) async throws {
        let end = PhaseEnd(database: name, step: step, history: entry, result: .applied(expectedDuration: expectedDuration, fingerprint: fingerprint))
        try await recordRound(ends: [end], intents: [], at: date)
    }

    // MARK: History and audit

    public func appendHistory(_ entry: HistoryEntry) async throws {
        let insert = Self.historyInsert(entry)
        _ = try await backend.query(insert.sql, insert.parameters)
    }

    static func historyInsert(_ entry: HistoryEntry) -> StateStatement {
        StateStatement(
            "INSERT INTO history (database, revision, phase, outcome, started_at, finished_at, rows, error, actor, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                entry.database, entry.revision, entry.phase.rawValue, entry.outcome, Self.time(entry.startedAt), Self.time(entry.finishedAt),
                String(entry.rows), entry.error, entry.actor, entry.output,
            ])
    }

    public func history(database: String? = nil, limit: Int = 1000) async throws -> [HistoryEntry] {
        let rows = try await backend.query(
            """
            SELECT database, revision, phase, outcome, started_at, finished_at, rows, error, actor, output FROM history
             WHERE database = coalesce(?, database) ORDER BY id DESC LIMIT ?
            """, [database, String(limit)])
        return rows.reversed().compactMap { row in
            guard let name = row[0], let revision = row[1], let phase = row[2].flatMap(Phase.init), let outcome = row[3],
                let started = row[4].flatMap(Self.date), let finished = row[5].flatMap(Self.date)
            else { return nil }
            return HistoryEntry(
                database: name, revision: revision, phase: phase, outcome: outcome, startedAt: started, finishedAt: finished,
                rows: row[6].flatMap { Int($0) } ?? 0, error: row[7], actor: row[8] ?? "", output: row[9])
        }
    }

    public func appendAudit(action: String, parameters: String, result: String, uid: UInt32?, pid: Int32?, at date: Date) async throws {
        _ = try await backend.query(
            "INSERT INTO audit (at, uid, pid, action, parameters, result) VALUES (?, ?, ?, ?, ?, ?)",
            [Self.time(date), uid.map(String.init), pid.map(String.init), action, parameters, result])
    }

    public func auditCount(action: String) async throws -> Int {
        Int(try await backend.query("SELECT count(*) FROM audit WHERE action = ?", [action]).first?.first??.description ?? "0") ?? 0
    }

    // MARK: Fingerprints

    /// Fingerprints taken after the phases that finished (schema tenants', in a
    /// batch), in one transaction, not synced on its own (lost to a power cut, a
    /// fingerprint is taken again at the next phase).
    public func recordFingerprints(_ fingerprints: [(database: String, revision: String, snapshot: SchemaSnapshot)], at date: Date) async throws {
        try await backend.transaction(fingerprints.map { try Self.fingerprintUpsert($0.database, $0.revision, $0.snapshot, at: date) }, durable: false)
    }

    static func fingerprintUpsert(_ database: String, _ revision: String, _ snapshot: SchemaSnapshot, at date: Date) throws -> StateStatement {
        StateStatement(
            "INSERT INTO fingerprints (database, revision, digest, snapshot, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (database, revision) DO UPDATE SET digest = excluded.digest, snapshot = excluded.snapshot, at = excluded.at",
            [database, revision, snapshot.digest, try encode(snapshot), time(date)])
    }

    /// Snapshots per database, at `revision`; `databases`: only those.
    public func fingerprints(at revision: String, of databases: [String]? = nil) async throws -> [String: SchemaSnapshot] {
        var snapshots: [String: SchemaSnapshot] = [:]
        var chunks: [[String]?] = [nil]
        if let databases {
            chunks = stride(from: 0, to: databases.count, by: 500).map { start in Array(databases[start..<min(start + 500, databases.count)]) }
        }
        for chunk in chunks {
            var only = ""
            var parameters: [String?] = [revision]
            if let chunk {
                only = " AND database IN (" + Array(repeating: "?", count: chunk.count).joined(separator: ", ") + ")"
                parameters += chunk.map { Optional($0) }
            }
            let rows = try await backend.query("SELECT database, snapshot FROM fingerprints WHERE revision = ?" + only, parameters)
            for row in rows { snapshots[row[0] ?? ""] = try Self.decode(SchemaSnapshot.self, row[1]) }
        }
        return snapshots
    }

    /// Each database's fingerprint digest at `revision`, without reading the snapshots.
    public func fingerprintDigests(at revision: String) async throws -> [String: String] {
        let rows = try await backend.query("SELECT database, digest FROM fingerprints WHERE revision = ?", [revision])
        return Dictionary(rows.map { ($0[0] ?? "", $0[1] ?? "") }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: Plumbing

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

    public init(
        database: String, revision: String, phase: Phase, outcome: String, startedAt: Date, finishedAt: Date, rows: Int, error: String?, actor: String,
        output: String? = nil
    ) {
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
