import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every raw libpq call drover makes, in one place (the way swift-system keeps its
/// syscalls together). Everything here blocks: callers run it on the Postgres thread
/// pool, never on the Swift cooperative pool.
enum LibPQ {
    /// Opens a connection. A failed `PQconnectdbParams` still returns a handle that
    /// must be `PQfinish`ed, which this does before throwing.
    static func connect(_ configuration: ConnectionConfiguration) throws(PostgresError) -> OpaquePointer {
        let pairs = configuration.connectParameters
        let conn: OpaquePointer? = withCStringArray(pairs.map(\.0)) { keywords in
            withCStringArray(pairs.map(\.1)) { values in
                PQconnectdbParams(keywords, values, 1)
            }
        }
        guard let conn else {
            throw PostgresError(kind: .connectFailed, message: "out of memory while connecting")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = errorMessage(conn)
            PQfinish(conn)
            let scrubbed = configuration.password?.scrub(message) ?? message
            throw PostgresError(kind: .connectFailed, sqlState: "08001", message: scrubbed)
        }
        return conn
    }

    static func finish(_ conn: OpaquePointer) { PQfinish(conn) }

    static func backendPID(_ conn: OpaquePointer) -> Int32 { PQbackendPID(conn) }

    static func serverVersion(_ conn: OpaquePointer) -> Int { Int(PQserverVersion(conn)) }

    static func isBroken(_ conn: OpaquePointer) -> Bool { PQstatus(conn) != CONNECTION_OK }

    static func inFailedOrOpenTransaction(_ conn: OpaquePointer) -> Bool {
        let status = PQtransactionStatus(conn)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Runs one statement with text parameters (`$1`, `$2`, ...). The extended
    /// protocol allows exactly one statement per call, which is what drover wants.
    static func execute(_ conn: OpaquePointer, _ sql: String, _ parameters: [String?]) throws(PostgresError) -> QueryResult {
        let result: OpaquePointer? = withOptionalCStringArray(parameters) { values in
            PQexecParams(conn, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try consume(conn, result)
    }

    /// Runs a simple-protocol query (may hold several statements; returns the last result).
    static func executeSimple(_ conn: OpaquePointer, _ sql: String) throws(PostgresError) -> QueryResult {
        try consume(conn, PQexec(conn, sql))
    }

    /// Sends `statements` in pipeline mode with one Sync at the end and reads every
    /// answer: one round trip. The server skips what follows a failure, up to the
    /// Sync; the statements before it are outside a transaction block unless one of
    /// them is BEGIN. Throws only when the connection itself failed.
    /// `reusable` statements are prepared the first time (`prepared` remembers them).
    static func pipeline(_ conn: OpaquePointer, _ statements: [PipelineStatement], prepared: inout PreparedStatements) throws(PostgresError) -> PipelineOutcome
    {
        func lost() -> PostgresError {
            PostgresError(kind: .connectionLost, message: errorMessage(conn))
        }
        guard PQenterPipelineMode(conn) == 1 else { throw lost() }
        var preparing: [Int: String] = [:]  // statement index → name being prepared
        for (index, statement) in statements.enumerated() {
            let count = Int32(statement.parameters.count)
            var queued: Int32
            if statement.reusable, let (name, isNew) = prepared.name(for: statement.sql) {
                queued = 1
                if isNew {
                    queued = PQsendPrepare(conn, name, statement.sql, count, nil)
                    preparing[index] = name
                }
                if queued == 1 {
                    queued = withOptionalCStringArray(statement.parameters) { values in
                        PQsendQueryPrepared(conn, name, count, values, nil, nil, 0)
                    }
                }
            } else {
                queued = withOptionalCStringArray(statement.parameters) { values in
                    PQsendQueryParams(conn, statement.sql, count, nil, values, nil, nil, 0)
                }
            }
            // libpq queues without waiting for answers; a refusal means the
            // connection is gone (the session drops it, pipeline state and all).
            guard queued == 1 else { throw lost() }
        }
        guard PQpipelineSync(conn) == 1 else { throw lost() }
        var outcome = PipelineOutcome()
        for index in statements.indices {
            if let name = preparing[index] {
                // The Prepare's own answer comes first; only a confirmed one is remembered.
                guard let result = PQgetResult(conn) else { throw lost() }
                switch PQresultStatus(result) {
                case PGRES_COMMAND_OK:
                    prepared.prepared(statements[index].sql, as: name)
                case PGRES_PIPELINE_ABORTED:
                    break
                default:
                    if outcome.failure == nil { outcome.failure = PipelineFailure(index: index, error: error(from: result, conn: conn)) }
                }
                PQclear(result)
                while let end = PQgetResult(conn) { PQclear(end) }
            }
            guard let result = PQgetResult(conn) else { throw lost() }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                outcome.results.append(read(result))
            case PGRES_PIPELINE_ABORTED:
                break  // skipped after the failure
            default:
                if outcome.failure == nil { outcome.failure = PipelineFailure(index: index, error: error(from: result, conn: conn)) }
            }
            PQclear(result)
            while let end = PQgetResult(conn) { PQclear(end) }  // NULL ends each statement's results
        }
        guard let sync = PQgetResult(conn) else { throw lost() }
        let synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
        PQclear(sync)
        guard synced, PQexitPipelineMode(conn) == 1 else { throw lost() }
        outcome.inTransaction = inFailedOrOpenTransaction(conn)
        return outcome
    }

    private static func consume(_ conn: OpaquePointer, _ result: OpaquePointer?) throws(PostgresError) -> QueryResult {
        guard let result else {
            throw PostgresError(kind: isBroken(conn) ? .connectionLost : .statementFailed, message: errorMessage(conn))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return read(result)
        default:
            throw error(from: result, conn: conn)
        }
    }

    private static func read(_ result: OpaquePointer) -> QueryResult {
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            rows.append(
                (0..<columnCount).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                })
        }
        let tuples = String(cString: PQcmdTuples(result))
        return QueryResult(
            columns: columns,
            rows: rows,
            commandTag: String(cString: PQcmdStatus(result)),
            affectedRows: Int(tuples)
        )
    }

    private static func error(from result: OpaquePointer, conn: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let message = field("M") ?? errorMessage(conn)
        let kind: PostgresError.Kind
        // An error without SQLSTATE comes from libpq, not the server: the connection
        // went away ("server closed the connection unexpectedly") even when libpq has
        // not marked it bad yet.
        if isBroken(conn) || sqlState == nil {
            kind = .connectionLost
        } else if sqlState == "57014" {
            kind = .cancelled
        } else {
            kind = .statementFailed
        }
        return PostgresError(
            kind: kind,
            sqlState: sqlState,
            message: message,
            detail: field("D"),
            hint: field("H"),
            position: field("P").flatMap { Int($0) }
        )
    }

    static func errorMessage(_ conn: OpaquePointer) -> String {
        guard let text = PQerrorMessage(conn) else { return "unknown libpq error" }
        return String(cString: text).trimmingTrailingWhitespace()
    }

    // MARK: Cancel

    static func makeCancel(_ conn: OpaquePointer) -> OpaquePointer? { PQgetCancel(conn) }

    static func freeCancel(_ cancel: OpaquePointer) { PQfreeCancel(cancel) }

    /// Asks the server to cancel the running statement. Safe from any thread.
    @discardableResult
    static func cancel(_ cancel: OpaquePointer) -> Bool {
        var buffer = [CChar](repeating: 0, count: 256)
        return PQcancel(cancel, &buffer, Int32(buffer.count)) == 1
    }

    // MARK: Notices

    /// Routes server notices (RAISE NOTICE, "relation already exists, skipping") to `sink`.
    static func setNoticeReceiver(_ conn: OpaquePointer, _ sink: NoticeSink) {
        let context = Unmanaged.passUnretained(sink).toOpaque()
        PQsetNoticeReceiver(
            conn,
            { context, result in
                guard let context, let result else { return }
                let sink = Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue()
                let message = PQresultErrorField(result, Int32(Character("M").asciiValue!)).map { String(cString: $0) } ?? ""
                let severity = PQresultErrorField(result, Int32(Character("V").asciiValue!)).map { String(cString: $0) } ?? "NOTICE"
                sink.append(Notice(severity: severity, message: message))
            }, context)
    }

    // MARK: Conninfo

    /// `conninfo` rebuilt as `key=value` pairs without a password. When libpq cannot
    /// parse it, nothing of it is shown, since a password could hide in any part.
    static func redactedConninfo(_ conninfo: String) -> String {
        var errorText: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorText) else {
            if let errorText { PQfreemem(errorText) }
            return "<unparsable conninfo>"
        }
        defer { PQconninfoFree(options) }
        var parts: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            let key = String(cString: keyword)
            if let value = option.pointee.val, key != "password" {
                parts.append("\(key)=\(String(cString: value))")
            }
            option += 1
        }
        return parts.joined(separator: " ")
    }

    /// The options a live connection actually uses (service file and environment
    /// resolved), without passwords: what a helper program needs to reach the same
    /// database.
    static func effectiveOptions(_ conn: OpaquePointer) -> [String: String] {
        guard let options = PQconninfo(conn) else { return [:] }
        defer { PQconninfoFree(options) }
        var result: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            let key = String(cString: keyword)
            if let value = option.pointee.val, !key.contains("password") {
                result[key] = String(cString: value)
            }
            option += 1
        }
        return result
    }
}

// MARK: - C string arrays

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicates = strings.map { strdup($0) }
    defer { for pointer in duplicates { free(pointer) } }
    var pointers = duplicates.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

private func withOptionalCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    guard !strings.isEmpty else { return body(nil) }
    let duplicates = strings.map { $0.map { strdup($0) } ?? nil }
    defer { for pointer in duplicates { free(pointer) } }
    var pointers = duplicates.map { $0.map { UnsafePointer($0) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var copy = self
        while let last = copy.last, last.isWhitespace { copy.removeLast() }
        return copy
    }
}
