import DroverCore
import DroverPostgres

/// One database's connection, reused across the phases run on it and replaced when
/// it breaks. Owned by one task at a time (the runner works on a database serially).
public final class RunnerSession: @unchecked Sendable {
    // Unchecked: `connection` is only touched by the single task that owns the
    // session (see type comment); the class exists to share reuse across calls.
    public let target: DatabaseTarget
    private var connection: PostgresConnection?
    /// The database is known to have its tracking table (the daemon has read rows
    /// from it): the phase reads the rows in the round trip that takes the lock
    /// instead of asking first. Should it be gone after all, the phase creates it.
    public var trackingTableSeen = false
    /// Told why a backfill waits between batches (`throttle`), and `nil` when it goes on.
    public var throttled: @Sendable (String?) -> Void = { _ in }

    /// `connection`: an open one to the same server and database to reuse (the
    /// daemon keeps those of finished phases).
    public init(target: DatabaseTarget, connection: PostgresConnection? = nil) {
        self.target = target
        self.connection = connection
    }

    /// Hands the connection over for reuse (nil when there is none or it broke);
    /// the session has none afterwards.
    public func detach() -> PostgresConnection? {
        defer { connection = nil }
        guard let connection, !connection.isBroken else { return nil }
        return connection
    }

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

    /// Session settings for one phase (docs/tracking.md, §6): `application_name` shows DBAs
    /// what drover does; every statement has a lock and a statement timeout. RESET
    /// ALL first: a reused connection keeps nothing of an earlier phase (a revision's
    /// own SET, another tenant's search_path); startup options survive it. Sent in
    /// one round trip with the advisory lock (`AdvisoryLock.acquire`).
    func settings(revision: String, phase: Phase) -> [PipelineStatement] {
        Self.settings(for: target, revision: revision, phase: phase, reset: true)
    }

    /// The same for any target; without `reset` (a lane's next tenant, whose
    /// predecessor's SQL changed no setting) only the values drover sets.
    static func settings(for target: DatabaseTarget, revision: String, phase: Phase, reset: Bool) -> [PipelineStatement] {
        let set = setConfig(for: target, revision: revision, phase: phase, takingTransactionLock: false)
        return reset ? [PipelineStatement("RESET ALL", reusable: true), set] : [set]
    }

    /// One statement that sets the values of `settings` and takes the target's
    /// advisory lock for the transaction it runs in (a lane's tenant: its phase's
    /// transaction, so COMMIT gives it back). Its one row ends with `t` when the
    /// lock was taken.
    static func settingsTakingTransactionLock(for target: DatabaseTarget, revision: String, phase: Phase) -> PipelineStatement {
        setConfig(for: target, revision: revision, phase: phase, takingTransactionLock: true)
    }

    private static func setConfig(for target: DatabaseTarget, revision: String, phase: Phase, takingTransactionLock: Bool) -> PipelineStatement {
        let settings = target.settings
        var names = ["application_name", "lock_timeout", "statement_timeout"]
        var values = ["drover/\(revision)/\(phase.rawValue)", "\(settings.lockTimeout.milliseconds)ms", "\(settings.statementTimeout.milliseconds)ms"]
        if let schema = target.schema {
            names.append("search_path")
            values.append(SQLQuoting.identifier(schema))
        }
        var calls = names.enumerated().map { "set_config('\($1)', $\($0 + 1), false)" }
        if takingTransactionLock {
            let key = target.advisoryLockKey
            calls.append("pg_try_advisory_xact_lock($\(values.count + 1)::int, $\(values.count + 2)::int)")
            values += [String(key.classID), String(key.objectID)]
        }
        return PipelineStatement("SELECT " + calls.joined(separator: ", "), values, reusable: true)
    }
}
