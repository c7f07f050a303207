import DroverPostgres
import Synchronization

/// Finds out who blocks a statement that waits for a lock. After a lock timeout the
/// wait is gone and the server no longer says who held the lock, so while a
/// statement runs longer than a quarter of the lock timeout a second connection asks
/// `pg_blocking_pids` and remembers the answer.
final class BlockerProbe: Sendable {
    private let found = Mutex<[LockBlocker]>([])

    var blockers: [LockBlocker] { found.withLock { $0 } }

    /// Runs `body` with the probe armed for `backendPID`.
    func watch<T>(
        backendPID: Int32,
        configuration: ConnectionConfiguration,
        after delay: Duration,
        _ body: () async throws -> T
    ) async throws -> T {
        let probe = Task { [self] in
            try await Task.sleep(for: delay)
            var probeConfiguration = configuration
            probeConfiguration.applicationName = "drover/blocker-probe"
            let connection = try await PostgresConnection.connect(probeConfiguration)
            defer { Task { await connection.close() } }
            let result = try await connection.query(
                """
                SELECT pid, usename, application_name, state, left(query, 120)
                  FROM pg_stat_activity WHERE pid = ANY (pg_blocking_pids($1::int))
                """, [String(backendPID)])
            let blockers = result.rows.compactMap { row -> LockBlocker? in
                guard let pid = row[0].flatMap({ Int32($0) }) else { return nil }
                return LockBlocker(pid: pid, user: row[1], application: row[2], state: row[3], query: row[4])
            }
            if !blockers.isEmpty { found.withLock { $0 = blockers } }
        }
        defer { probe.cancel() }
        return try await body()
    }
}
