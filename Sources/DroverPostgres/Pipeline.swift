/// One statement of a pipeline (`PostgresConnection.pipeline`): a single SQL
/// statement with `$n` text parameters.
public struct PipelineStatement: Sendable {
    public var sql: String
    public var parameters: [String?]

    public init(_ sql: String, _ parameters: [String?] = []) {
        self.sql = sql
        self.parameters = parameters
    }
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

    /// The results when every statement ran; the failing statement's error otherwise.
    public func get() throws(PostgresError) -> [QueryResult] {
        if let failure { throw failure.error }
        return results
    }
}
