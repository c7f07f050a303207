/// An error from libpq or the server, with the SQLSTATE a caller decides on.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The connection could not be opened.
        case connectFailed
        /// The server reported an error for a statement; the connection is still usable.
        case statementFailed
        /// The connection broke (server restart, `pg_terminate_backend`, network).
        case connectionLost
        /// The statement was cancelled (`PQcancel`).
        case cancelled
    }

    public var kind: Kind
    /// Five-character SQLSTATE, when the server sent one.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// 1-based character position in the statement, when the server sent one.
    public var position: Int?

    public init(kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil, position: Int? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.position = position
    }

    /// `55P03 lock_not_available`: a lock wait ran past `lock_timeout`.
    public var isLockTimeout: Bool { sqlState == "55P03" }
    /// `57014 query_canceled`: cancelled, or `statement_timeout` ran out.
    public var isQueryCanceled: Bool { sqlState == "57014" }
    /// Errors after which a new connection may well succeed.
    public var isConnectionProblem: Bool {
        if kind == .connectionLost || kind == .connectFailed { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }

    public var description: String {
        var text = sqlState.map { "\($0): \(message)" } ?? message
        if let detail { text += " (\(detail))" }
        if let hint { text += " hint: \(hint)" }
        return text
    }
}
