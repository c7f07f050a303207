import NIOPosix
import Synchronization

/// One libpq connection. Every call runs on the Postgres thread pool; the `PGconn`
/// sits behind a mutex, so it is never used by two threads at once. Cancelling the
/// Swift task that awaits a statement sends `PQcancel` to the server.
public final class PostgresConnection: Sendable {
    /// The `PGconn *`, `nil` once closed.
    private let connection: Mutex<CHandle?>
    /// The `PGcancel *`: separate from the connection so that a cancel can reach the
    /// server while a statement holds the connection's lock.
    private let cancelHandle: Mutex<CHandle?>
    private let notices: NoticeSink
    private let pool: NIOThreadPool
    #if DROVER_TEST_HOOKS
    private let trips = Atomic<Int>(0)
    private let sent = Atomic<Int>(0)
    private let handOffs = Atomic<Int>(0)
    #endif
    /// Only touched while `connection` is locked, by the call that holds it.
    private let prepared = Mutex(PreparedStatements())

    /// The server process serving this connection (`pg_backend_pid()`).
    public let backendPID: Int32
    /// e.g. 150018 for 15.18.
    public let serverVersion: Int
    /// The connection options in effect (host, port, user, dbname, sslmode, ...),
    /// never a password. See `LibPQ.effectiveOptions`.
    public let options: [String: String]
    /// The password this connection was opened with, for a helper program that must
    /// reach the same database (passed through its environment, never a command line).
    public let password: Secret?

    private init(_ conn: OpaquePointer, pool: NIOThreadPool, password: Secret?) {
        let sink = NoticeSink()
        LibPQ.setNoticeReceiver(conn, sink)
        self.notices = sink
        self.backendPID = LibPQ.backendPID(conn)
        self.serverVersion = LibPQ.serverVersion(conn)
        self.options = LibPQ.effectiveOptions(conn)
        self.cancelHandle = Mutex(LibPQ.makeCancel(conn).map(CHandle.init))
        self.connection = Mutex(CHandle(conn))
        self.pool = pool
        self.password = password
    }

    deinit { finish() }

    /// Frees the cancel handle and `PQfinish`es the connection, once.
    private func finish() {
        cancelHandle.withLock { handle in
            if let handle { LibPQ.freeCancel(handle.pointer) }
            handle = nil
        }
        connection.withLock { conn in
            if let conn { LibPQ.finish(conn.pointer) }
            conn = nil
        }
    }

    /// Opens a connection on a pool thread: inline when the caller already runs on
    /// one (`PostgresExecutor`).
    @concurrent
    public static func connect(
        _ configuration: ConnectionConfiguration,
        pool: NIOThreadPool = PostgresThreadPool.shared
    ) async throws(PostgresError) -> PostgresConnection {
        if PostgresExecutor.isCurrent {
            guard !Task.isCancelled else { throw PostgresError(kind: .cancelled, sqlState: "57014", message: "cancelled before connecting") }
            return PostgresConnection(try LibPQ.connect(configuration), pool: pool, password: configuration.password)
        }
        do {
            return try await pool.runIfActive {
                let conn = try LibPQ.connect(configuration)
                return PostgresConnection(conn, pool: pool, password: configuration.password)
            }
        } catch let error as PostgresError {
            throw error
        } catch is CancellationError {
            throw PostgresError(kind: .cancelled, sqlState: "57014", message: "cancelled before connecting")
        } catch {
            throw PostgresError(kind: .connectFailed, message: "the Postgres thread pool is shut down")
        }
    }

    /// Runs one statement with `$n` parameters. Cancelling the calling task cancels
    /// the statement on the server.
    /// `cancellable: false` is for cleanup that must run even in a cancelled task
    /// (ROLLBACK, releasing an advisory lock).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = [], cancellable: Bool = true) async throws(PostgresError) -> QueryResult {
        countSent(1)
        return try await run(cancellable: cancellable) { conn throws(PostgresError) in try LibPQ.execute(conn, sql, parameters) }
    }

    /// Runs one `PipelineStatement` on its own.
    @discardableResult
    public func query(_ statement: PipelineStatement, cancellable: Bool = true) async throws(PostgresError) -> QueryResult {
        try await query(statement.sql, statement.parameters, cancellable: cancellable)
    }

    /// Runs SQL over the simple protocol (several statements allowed; the last
    /// result is returned). Used for session settings and fixed drover SQL.
    @discardableResult
    public func execute(_ sql: String, cancellable: Bool = true) async throws(PostgresError) -> QueryResult {
        countSent(1)
        return try await run(cancellable: cancellable) { conn throws(PostgresError) in try LibPQ.executeSimple(conn, sql) }
    }

    /// Sends several statements at once (libpq pipeline mode) and waits for all their
    /// answers: one round trip instead of one per statement. Results come in order
    /// up to the first failure; the server skips the rest. Keep pipelines small:
    /// libpq blocks on sending while the server may block on answering, so a
    /// pipeline of statements with large results could stall both.
    public func pipeline(_ statements: [PipelineStatement], cancellable: Bool = true) async throws(PostgresError) -> PipelineOutcome {
        countSent(statements.count)
        var outcome = try await run(cancellable: cancellable) { [self] conn throws(PostgresError) in
            try prepared.withLock { known throws(PostgresError) in try LibPQ.pipeline(conn, statements, prepared: &known) }
        }
        if let password, let failure = outcome.failure { outcome.failure?.error.message = password.scrub(failure.error.message) }
        return outcome
    }

    /// Forgets the statements prepared so far (`PipelineStatement.reusable`), after
    /// SQL that may have dropped them: they are prepared again when next sent.
    public func forgetPreparedStatements() {
        prepared.withLock { $0.forget() }
    }

    /// Runs `body` between BEGIN and COMMIT; any error (or cancellation) rolls back.
    public func transaction<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await execute("BEGIN")
        do {
            let value = try await body()
            try await execute("COMMIT")
            return value
        } catch {
            await rollbackIfOpen()
            throw error
        }
    }

    /// Rolls back an open or failed transaction, even when the task is cancelled:
    /// this is the cleanup a cancellation relies on.
    public func rollbackIfOpen() async {
        _ = try? await run(cancellable: false) { conn throws(PostgresError) -> QueryResult in
            guard LibPQ.inFailedOrOpenTransaction(conn) else { return QueryResult() }
            return try LibPQ.executeSimple(conn, "ROLLBACK")
        }
    }

    /// Asks the server to cancel whatever this connection is running.
    public func cancel() {
        cancelHandle.withLock { handle in
            if let handle { LibPQ.cancel(handle.pointer) }
        }
    }

    #if DROVER_TEST_HOOKS
    /// Exchanges with the server so far (a statement, or a whole pipeline, is one):
    /// what a phase costs on a fleet of small databases, held down by tests.
    public var roundTrips: Int { trips.load(ordering: .relaxed) }

    /// Statements sent so far (a pipeline's each count): the server's work per phase.
    public var statementsSent: Int { sent.load(ordering: .relaxed) }

    /// Calls handed to the Postgres thread pool, rather than run inline by a task on
    /// `PostgresExecutor`: what tests hold down for a phase's task.
    public var poolHandOffs: Int { handOffs.load(ordering: .relaxed) }
    #endif

    private func countSent(_ statements: Int) {
        #if DROVER_TEST_HOOKS
        sent.add(statements, ordering: .relaxed)
        #endif
    }

    /// Notices received since the last call.
    public func drainNotices() -> [Notice] { notices.drain() }

    /// Whether the connection broke (a new one is needed).
    public var isBroken: Bool {
        connection.withLock { conn in conn.map { LibPQ.isBroken($0.pointer) } ?? true }
    }

    /// Closes the connection (`PQfinish`). Later calls fail with `connectionLost`.
    public func close() async {
        _ = try? await Task.detached { [self, pool] in try await pool.runIfActive { self.finish() } }.value
    }

    /// `@concurrent`: never on the caller's actor, which a call blocking inline on a
    /// Postgres thread would hold for the whole round trip.
    @concurrent
    private func run<T: Sendable>(
        cancellable: Bool,
        _ work: @escaping @Sendable (OpaquePointer) throws(PostgresError) -> T
    ) async throws(PostgresError) -> T {
        if cancellable && Task.isCancelled {
            throw PostgresError(kind: .cancelled, sqlState: "57014", message: "cancelled before the statement was sent")
        }
        let password = self.password
        let operation: @Sendable () throws(PostgresError) -> T = { [self] () throws(PostgresError) -> T in
            try connection.withLock { conn throws(PostgresError) -> T in
                guard let conn else { throw PostgresError(kind: .connectionLost, message: "connection is closed") }
                #if DROVER_TEST_HOOKS
                trips.add(1, ordering: .relaxed)
                #endif
                do throws(PostgresError) {
                    return try work(conn.pointer)
                } catch {
                    // Server messages may quote the conninfo; never let a password through.
                    var scrubbed = error
                    if let password { scrubbed.message = password.scrub(scrubbed.message) }
                    throw scrubbed
                }
            }
        }
        if PostgresExecutor.isCurrent {
            // Already on a Postgres thread: block here, no hand-off.
            guard cancellable else { return try operation() }
            let result = await withTaskCancellationHandler {
                Result { () throws(PostgresError) -> T in try operation() }
            } onCancel: {
                self.cancel()
            }
            return try result.get()
        }
        #if DROVER_TEST_HOOKS
        handOffs.add(1, ordering: .relaxed)
        #endif
        do {
            if cancellable {
                return try await withTaskCancellationHandler {
                    try await pool.runIfActive { try operation() }
                } onCancel: {
                    self.cancel()
                }
            }
            // The pool skips work whose task is already cancelled; cleanup must run
            // anyway, so it goes through a task that does not inherit cancellation.
            return try await Task.detached { [pool] in try await pool.runIfActive { try operation() } }.value
        } catch let error as PostgresError {
            throw error
        } catch is CancellationError {
            throw PostgresError(kind: .cancelled, sqlState: "57014", message: "cancelled before the statement ran")
        } catch {
            throw PostgresError(kind: .connectionLost, message: "the Postgres thread pool is shut down")
        }
    }
}

/// A libpq pointer (`PGconn *`, `PGcancel *`). Unchecked Sendable because it is only
/// reached through a `Mutex`, which is what makes one-user-at-a-time hold.
private struct CHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
