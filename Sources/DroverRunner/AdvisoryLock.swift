import DroverPostgres

/// The session advisory lock every phase holds (docs/tracking.md). Taken with a try-lock:
/// drover never waits for it, so two daemons (or a daemon and a person) never work
/// on one database at once and neither hangs.
enum AdvisoryLock {
    /// Runs `body` holding the lock; throws `.locked` naming the holder when taken.
    /// `setUp` (session settings) goes in the same round trip as the lock.
    static func withLock<T>(
        _ connection: PostgresConnection,
        target: DatabaseTarget,
        setUp: [PipelineStatement] = [],
        _ body: () async throws -> T
    ) async throws -> T {
        _ = try await acquire(connection, target: target, setUp: setUp)
        do {
            let value = try await body()
            try await connection.query(release(target), cancellable: false)
            return value
        } catch {
            await abandon(connection, target: target)
            throw error
        }
    }

    /// `setUp`, the try-lock and `then` in one round trip; the results of `then`
    /// (run whether or not the lock was free: they must only read). Throws
    /// `.locked` naming the holder when another session has it, or the failure of
    /// `setUp`.
    static func acquire(
        _ connection: PostgresConnection, target: DatabaseTarget, setUp: [PipelineStatement], then: [PipelineStatement] = []
    ) async throws -> PipelineOutcome {
        var outcome = try await connection.pipeline(setUp + [tryLock(target)] + then)
        if let failure = outcome.failure, failure.index <= setUp.count {
            // Settings or the lock itself failed: the lock was not taken.
            throw failure.error
        }
        guard outcome.results[setUp.count].scalar == "t" else {
            throw RunnerError.locked(database: target.name, holderPID: try? await holder(connection, target: target))
        }
        outcome.results.removeFirst(setUp.count + 1)
        outcome.failure?.index -= setUp.count + 1
        return outcome
    }

    /// The try-lock: one row, `t` when taken.
    static func tryLock(_ target: DatabaseTarget) -> PipelineStatement {
        let key = target.advisoryLockKey
        return PipelineStatement("SELECT pg_try_advisory_lock($1::int, $2::int)", [String(key.classID), String(key.objectID)], reusable: true)
    }

    static func release(_ target: DatabaseTarget) -> PipelineStatement {
        let key = target.advisoryLockKey
        return PipelineStatement("SELECT pg_advisory_unlock($1::int, $2::int)", [String(key.classID), String(key.objectID)], reusable: true)
    }

    /// After a failure holding the lock: roll back what is open, give the lock up.
    /// On a broken connection the server already released it.
    static func abandon(_ connection: PostgresConnection, target: DatabaseTarget) async {
        await connection.rollbackIfOpen()
        _ = try? await connection.query(release(target), cancellable: false)
    }

    /// The pid holding the lock, from `pg_locks` (oids are unsigned: mask the keys).
    static func holder(_ connection: PostgresConnection, target: DatabaseTarget) async throws(PostgresError) -> Int32? {
        let key = target.advisoryLockKey
        let result = try await connection.query(
            """
            SELECT pid FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 2
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = ($1::bigint & 4294967295)::oid AND objid = ($2::bigint & 4294967295)::oid
             LIMIT 1
            """, [String(key.classID), String(key.objectID)])
        return result.scalar.flatMap { Int32($0) }
    }
}
