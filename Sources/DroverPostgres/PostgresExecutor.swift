import NIOPosix

/// A task executor on the Postgres threads. A task that prefers it
/// (`Task(executorPreference: PostgresExecutor.shared)`, as a phase's task does) runs
/// its libpq calls inline, on the Postgres thread it already occupies: without it,
/// every round trip hands the call to the pool and the answer back to the
/// cooperative pool, two thread switches that on a fleet of small phases cost
/// droverd more CPU than its own work. The cooperative pool is never blocked either
/// way: only code already on a Postgres thread runs libpq inline.
public final class PostgresExecutor: TaskExecutor {
    public static let shared = PostgresExecutor(pool: PostgresThreadPool.shared)

    private let pool: NIOThreadPool
    /// Set on a Postgres thread while it runs one of this executor's jobs.
    private static let runningJob = ThreadSpecificVariable<Marker>()
    private final class Marker: Sendable {}
    private static let marker = Marker()

    init(pool: NIOThreadPool) {
        self.pool = pool
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pool.submit { [self] state in
            // A pool shut down (process exit) runs the item on the caller's thread,
            // which may be a cooperative one: the job runs, but not as ours.
            if state == .active { Self.runningJob.currentValue = Self.marker }
            defer { Self.runningJob.currentValue = nil }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Whether the calling code runs on a Postgres thread as one of this executor's
    /// jobs, so that it may block in libpq.
    static var isCurrent: Bool { runningJob.currentValue != nil }
}
