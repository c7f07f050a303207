import DroverCore
import DroverPostgres

/// One database's connection, reused across the phases run on it and replaced when
/// it breaks. Owned by one task at a time (the runner works on a database serially).
public final class RunnerSession: @unchecked Sendable {
    // Unchecked: `connection` is only touched by the single task that owns the
    // session (see type comment); the class exists to share reuse across calls.
    public let target: DatabaseTarget
    private var connection: PostgresConnection?

    public init(target: DatabaseTarget) { self.target = target }

    /// The open connection, connecting first when there is none or it broke.
    public func connect() async throws(PostgresError) -> PostgresConnection {
        if let connection, !connection.isBroken { return connection }
        if let connection { await connection.close() }
        connection = nil
        let fresh = try await PostgresConnection.connect(target.connection)
        connection = fresh
        return fresh
    }

    /// Drops the connection (after a connection error), so the next call reconnects.
    public func reset() async {
        if let connection { await connection.close() }
        connection = nil
    }

    public func close() async { await reset() }

    /// Session settings for one phase (SPEC §4, §6): `application_name` shows DBAs
    /// what drover does; every statement has a lock and a statement timeout.
    func prepare(_ connection: PostgresConnection, revision: String, phase: Phase) async throws(PostgresError) {
        let settings = target.settings
        var sql = """
            SET application_name = \(SQLQuoting.literal("drover/\(revision)/\(phase.rawValue)"));
            SET lock_timeout = '\(settings.lockTimeout.milliseconds)ms';
            SET statement_timeout = '\(settings.statementTimeout.milliseconds)ms';
            """
        if let schema = target.schema {
            sql += "\nSET search_path TO \(SQLQuoting.identifier(schema));"
        }
        try await connection.execute(sql)
    }
}
