/// One statement of a pipeline (`PostgresConnection.pipeline`): a single SQL
/// statement with `$n` text parameters.
public struct PipelineStatement: Sendable {
    public var sql: String
    public var parameters: [String?]
    /// Prepared once per connection and then only bound and executed: for drover's
    /// own statements that every phase on the connection sends again (the lock, the
    /// fingerprint), whose planning was a good part of a phase's server time.
    public var reusable: Bool

    public init(_ sql: String, _ parameters: [String?] = [], reusable: Bool = false) {
        self.sql = sql
        self.parameters = parameters
        self.reusable = reusable
    }
}

/// The statements prepared on one connection, by text. Bounded: a connection that
/// serves thousands of schema tenants sees thousands of texts; past the limit they
/// are sent unprepared.
struct PreparedStatements {
    private var names: [String: String] = [:]
    private var counter = 0
    static let limit = 100

    /// The statement's name, and whether it still has to be prepared; `nil` past the limit.
    mutating func name(for sql: String) -> (name: String, isNew: Bool)? {
        if let name = names[sql] { return (name, false) }
        guard names.count < Self.limit else { return nil }
        counter += 1
        return ("drover_\(counter)", true)
    }

    mutating func prepared(_ sql: String, as name: String) { names[sql] = name }

    /// After SQL that may have dropped them (`DISCARD ALL`, `DEALLOCATE`): prepare
    /// afresh, under new names so that a survivor never collides.
    mutating func forget() { names = [:] }
}

/// The statement of a pipeline that failed, by its index; the server skipped the
/// ones after it.
public struct PipelineFailure: Sendable {
    public var index: Int
    public var error: PostgresError
}

/// What a pipeline did: the results of the statements that ran, in order, up to
/// the first failure.
public struct PipelineOutcome: Sendable {
    public var results: [QueryResult] = []
    public var failure: PipelineFailure?
    /// Whether a transaction block was open (or failed) after the Sync.
    public var inTransaction = false

    /// The results when every statement ran; the failing statement's error otherwise.
    public func get() throws(PostgresError) -> [QueryResult] {
        if let failure { throw failure.error }
        return results
    }
}
