import DroverPostgres
import Synchronization

/// The state in a PostgreSQL database that several droverd share (`fleet.state:
/// postgresql://...` or `service=...`), in schema `drover_state`; the same tables as
/// the SQLite file plus the leader's lease and the instances' heartbeats. The
/// team's own PostgreSQL HA (a managed service, Patroni) keeps it available.
/// Connections are pooled; a broken one is dropped and the next call opens a new
/// one, so a restarted state server is reconnected to without a restart of droverd.
final class PostgresStateBackend: StateBackend {
    let location: String
    private let configuration: ConnectionConfiguration
    private let idle = Mutex<[PostgresConnection]>([])
    /// Enough for the fleet loop, the lease and a few control calls at once.
    private static let maximumIdle = 4

    private init(conninfo: String) {
        configuration = ConnectionConfiguration(conninfo: conninfo, applicationName: "droverd state", connectTimeoutSeconds: 5)
        location = configuration.redacted
    }

    /// Connects and creates the schema when it is not there yet.
    static func open(conninfo: String) async throws(StateStoreError) -> PostgresStateBackend {
        let backend = PostgresStateBackend(conninfo: conninfo)
        _ = try await backend.withConnection { connection throws(PostgresError) in
            try await connection.execute(schema)
        }
        return backend
    }

    static let schema = """
        BEGIN;
        -- Instances starting together would race on CREATE ... IF NOT EXISTS.
        SELECT pg_advisory_xact_lock(1685221238, 0);
        CREATE SCHEMA IF NOT EXISTS drover_state;
        CREATE TABLE IF NOT EXISTS drover_state.tiers (tier text PRIMARY KEY, control text NOT NULL);
        CREATE TABLE IF NOT EXISTS drover_state.databases (name text PRIMARY KEY, paused integer NOT NULL DEFAULT 0, failure text);
        ALTER TABLE drover_state.databases ADD COLUMN IF NOT EXISTS pause_reason text;
        CREATE TABLE IF NOT EXISTS drover_state.expected_durations (key text PRIMARY KEY, milliseconds bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS drover_state.intents (database text PRIMARY KEY, revision text NOT NULL, phase text NOT NULL, started_at text NOT NULL);
        CREATE TABLE IF NOT EXISTS drover_state.history (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, database text NOT NULL, revision text NOT NULL, phase text NOT NULL,
            outcome text NOT NULL, started_at text NOT NULL, finished_at text NOT NULL, rows bigint NOT NULL,
            error text, actor text NOT NULL, output text);
        CREATE TABLE IF NOT EXISTS drover_state.audit (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at text NOT NULL, uid bigint, pid bigint, action text NOT NULL,
            parameters text NOT NULL, result text NOT NULL);
        CREATE TABLE IF NOT EXISTS drover_state.fingerprints (
            database text NOT NULL, revision text NOT NULL, digest text NOT NULL, snapshot text NOT NULL, at text NOT NULL,
            PRIMARY KEY (database, revision));
        CREATE TABLE IF NOT EXISTS drover_state.lease (
            fleet text PRIMARY KEY, holder text NOT NULL, host text NOT NULL, pid integer NOT NULL, term bigint NOT NULL,
            since timestamptz NOT NULL, renewed_at timestamptz NOT NULL, expires_at timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS drover_state.instances (
            id text PRIMARY KEY, host text NOT NULL, pid integer NOT NULL, role text NOT NULL,
            started_at timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL);
        COMMIT;
        """

    nonisolated(nonsending) func query(_ sql: String, _ parameters: [String?]) async throws(StateStoreError) -> [[String?]] {
        let translated = Self.numberedParameters(sql)
        return try await withConnection { connection throws(PostgresError) in
            try await connection.query(translated, parameters).rows
        }
    }

    nonisolated(nonsending) func transaction(_ statements: [StateStatement], durable: Bool) async throws(StateStoreError) {
        try await withConnection { connection throws(PostgresError) in
            try await connection.execute(durable ? "BEGIN" : "BEGIN; SET LOCAL synchronous_commit = off")
            do throws(PostgresError) {
                for statement in statements {
                    try await connection.query(Self.numberedParameters(statement.sql), statement.parameters)
                }
                try await connection.execute("COMMIT")
            } catch {
                await connection.rollbackIfOpen()
                throw error
            }
        }
    }

    func close() async {
        for connection in idle.withLock({ pool in
            defer { pool = [] }
            return pool
        }) { await connection.close() }
    }

    /// A pooled connection for `body`; one that broke is closed instead of returned.
    private func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws(PostgresError) -> T) async throws(StateStoreError) -> T {
        let connection: PostgresConnection
        do throws(PostgresError) {
            if let pooled = idle.withLock({ $0.popLast() }) {
                connection = pooled
            } else {
                connection = try await PostgresConnection.connect(configuration)
                // Every statement is short: a state server that hangs must not hang the loop.
                // A droverd stopped inside a write (SIGSTOP, a frozen VM) has lost its
                // lease by the time it wakes; its open transaction must not keep the
                // successor's writes of the same rows (the intents of one lane) waiting
                // on its locks until then: the server ends such a session.
                try await connection.execute(
                    "SET search_path TO drover_state, pg_catalog; SET statement_timeout = '15s'; SET idle_in_transaction_session_timeout = '5s'")
            }
        } catch {
            throw .unreachable(location: location, reason: error.description)
        }
        do throws(PostgresError) {
            let value = try await body(connection)
            checkIn(connection)
            return value
        } catch {
            if connection.isBroken || error.kind == .connectionLost {
                await connection.close()
                throw .unreachable(location: location, reason: error.description)
            }
            await connection.rollbackIfOpen()
            checkIn(connection)
            throw .statementFailed(error.description)
        }
    }

    private func checkIn(_ connection: PostgresConnection) {
        let kept = idle.withLock { pool in
            guard pool.count < Self.maximumIdle else { return false }
            pool.append(connection)
            return true
        }
        if !kept { Task { await connection.close() } }
    }

    /// The store's `?` placeholders as `$1`, `$2`, ... (drover's own SQL has no `?`
    /// inside literals).
    static func numberedParameters(_ sql: String) -> String {
        var result = ""
        var number = 0
        for character in sql {
            if character == "?" {
                number += 1
                result += "$\(number)"
            } else {
                result.append(character)
            }
        }
        return result
    }
}
