import DroverPostgres

/// The session advisory lock every phase holds (SPEC §4). Taken with a try-lock:
/// drover never waits for it, so two daemons (or a daemon and a person) never work
/// on one database at once and neither hangs.
enum AdvisoryLock {
    /// Runs `body` holding the lock; throws `.locked` naming the holder when taken.
    /// `setUp` (session settings) goes in the same round trip as the lock.
    static func withLock<T>(
        _ connection: PostgresConnection,
        target: DatabaseTarget,
        setUp: String = "",
        _ body: () async throws -> T
    ) async throws -> T {
        let key = target.advisoryLockKey
        let parameters = [String(key.classID), String(key.objectID)]
        let acquired = try await connection.execute(setUp + "\nSELECT pg_try_advisory_lock(\(key.classID), \(key.objectID))").scalar == "t"
        guard acquired else {
            throw RunnerError.locked(database: target.name, holderPID: try? await holder(connection, target: target))
        }
        do {
            let value = try await body()
            try await connection.query("SELECT pg_advisory_unlock($1::int, $2::int)", parameters, cancellable: false)
            return value
        } catch {
            // On a broken connection the server already released the lock.
            await connection.rollbackIfOpen()
            _ = try? await connection.query("SELECT pg_advisory_unlock($1::int, $2::int)", parameters, cancellable: false)
            throw error
        }
    }

    /// The pid holding the lock, from `pg_locks` (oids are unsigned: mask the keys).
    static func holder(_ connection: PostgresConnection, target: DatabaseTarget) async throws(PostgresError) -> Int32? {
        let key = target.advisoryLockKey
        let result = try await connection.query("""
            SELECT pid FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 2
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = ($1::bigint & 4294967295)::oid AND objid = ($2::bigint & 4294967295)::oid
             LIMIT 1
            """, [String(key.classID), String(key.objectID)])
        return result.scalar.flatMap { Int32($0) }
    }
}
