import DroverCore
import DroverPostgres

/// What a throttled backfill reads between batches (docs/operations.md), in one round trip
/// on the phase's own connection: each standby's replay lag and silence
/// (`pg_stat_replication`; the role needs `pg_monitor` to see them), an autovacuum
/// on the backfilled table (`pg_stat_progress_vacuum`), and the sessions waiting for
/// a lock on it.
enum ThrottleProbe {
    static func read(_ connection: PostgresConnection, table: String?) async throws(PostgresError) -> ThrottleReadings {
        let rows = try await connection.query(
            """
            SELECT 's', coalesce(application_name, pid::text), extract(epoch FROM replay_lag)::text,
                   coalesce(extract(epoch FROM now() - reply_time), 0)::text
              FROM pg_stat_replication
            UNION ALL
            SELECT 'v', count(*)::text, NULL, NULL
              FROM pg_stat_progress_vacuum v JOIN pg_stat_activity a USING (pid)
             WHERE v.relid = to_regclass($1) AND a.backend_type = 'autovacuum worker'
            UNION ALL
            SELECT 'l', count(*)::text, NULL, NULL FROM pg_locks WHERE relation = to_regclass($1) AND NOT granted
            """, [table]
        ).rows
        var readings = ThrottleReadings()
        for row in rows {
            switch row[0] {
            case "s":
                readings.standbys.append(
                    ThrottleReadings.Standby(
                        name: row[1] ?? "?", replayLag: row[2].flatMap(Double.init).map { .milliseconds(Int64($0 * 1000)) },
                        silence: .milliseconds(Int64((row[3].flatMap(Double.init) ?? 0) * 1000))))
            case "v":
                if (Int(row[1] ?? "0") ?? 0) > 0 { readings.autovacuumOn = table }
            case "l":
                readings.lockWaiters = Int(row[1] ?? "0") ?? 0
            default:
                break
            }
        }
        return readings
    }
}
