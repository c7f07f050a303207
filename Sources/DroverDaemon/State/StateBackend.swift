/// The database under a `StateStore`: SQLite for one droverd, PostgreSQL for several
/// sharing their state. The store writes one SQL dialect that both accept (`?`
/// parameters, `ON CONFLICT ... DO UPDATE`, rows as text); each backend owns its
/// schema, its connection and where its calls run (never the cooperative pool).
protocol StateBackend: Sendable {
    /// A file path, or the conninfo without its password: for logs and messages.
    var location: String { get }
    /// Both run where their caller runs, up to the hand-over to the backend's own
    /// thread or connection: a write from the fleet's actor resumes there directly.
    nonisolated(nonsending) func query(_ sql: String, _ parameters: [String?]) async throws(StateStoreError) -> [[String?]]
    /// The statements in one transaction: all or none. `durable: false`: the commit
    /// may wait for the next durable one to reach the disk (it survives droverd's
    /// crash, not a power cut).
    nonisolated(nonsending) func transaction(_ statements: [StateStatement], durable: Bool) async throws(StateStoreError)
    func close() async
}

extension StateBackend {
    nonisolated(nonsending) func transaction(_ statements: [StateStatement]) async throws(StateStoreError) {
        try await transaction(statements, durable: true)
    }
}

struct StateStatement: Sendable {
    var sql: String
    var parameters: [String?]

    init(_ sql: String, _ parameters: [String?] = []) {
        self.sql = sql
        self.parameters = parameters
    }
}
