import CSQLite
import Foundation

/// Every raw SQLite call of the state store, in one place. Not thread-safe by
/// itself: `StateStore` serialises all use on one dedicated thread.
final class SQLite {
    private var handle: OpaquePointer?
    /// Statements prepared once and reused, by text: the store sends a few fixed
    /// texts for every phase, and compiling them again each time showed in
    /// profiles of a 10,000-tenant rollout. Bounded, in case a caller builds texts.
    private var prepared: [String: OpaquePointer] = [:]
    static let preparedLimit = 64
    /// How many statements were compiled, for tests.
    private(set) var compilations = 0

    init(path: String) throws(StateStoreError) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw .cannotOpen(path: path, reason: message)
        }
        handle = db
        sqlite3_busy_timeout(db, 5_000)
    }

    deinit {
        for statement in prepared.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    /// Runs statements without results (schema, pragmas, BEGIN/COMMIT).
    func execute(_ sql: String) throws(StateStoreError) {
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? lastError
            sqlite3_free(error)
            throw .statementFailed(message)
        }
    }

    /// `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction(_ body: () throws(StateStoreError) -> Void) throws(StateStoreError) {
        try query("BEGIN IMMEDIATE")
        do {
            try body()
            try query("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs one statement with `?` parameters and returns its rows as text.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws(StateStoreError) -> [[String?]] {
        let (statement, kept) = try statement(for: sql)
        defer {
            // Ready for the next use, holding no copy of this one's parameters.
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
            if !kept { sqlite3_finalize(statement) }
        }
        for (index, parameter) in parameters.enumerated() {
            let position = Int32(index + 1)
            if let parameter {
                sqlite3_bind_text(statement, position, parameter, -1, drover_sqlite_transient())
            } else {
                sqlite3_bind_null(statement, position)
            }
        }
        var rows: [[String?]] = []
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW:
                let count = sqlite3_column_count(statement)
                rows.append(
                    (0..<count).map { column in
                        sqlite3_column_text(statement, column).map { String(cString: $0) }
                    })
            case SQLITE_DONE:
                return rows
            default:
                throw .statementFailed(lastError)
            }
        }
    }

    /// The prepared statement for `sql`: kept, or compiled now and kept while there
    /// is room. `kept: false`: the caller finalizes it after use.
    private func statement(for sql: String) throws(StateStoreError) -> (statement: OpaquePointer, kept: Bool) {
        if let statement = prepared[sql] { return (statement, true) }
        let keep = prepared.count < Self.preparedLimit
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql, -1, keep ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0, &statement, nil) == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw .statementFailed(lastError)
        }
        compilations += 1
        if keep { prepared[sql] = statement }
        return (statement, keep)
    }

    private var lastError: String { String(cString: sqlite3_errmsg(handle)) }
}
