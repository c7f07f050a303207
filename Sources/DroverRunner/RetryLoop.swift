import DroverCore
import DroverPostgres

/// A statement of a revision that failed, with where it is written.
struct StatementError: Error {
    var statement: StatementReference?
    var error: PostgresError
}

/// Attempts of one phase (docs/states.md): a lock timeout (55P03) or a lost connection is
/// retried with backoff and jitter up to `retry.attempts`; progress (a backfill
/// batch, a no-transaction statement) starts the count afresh.
struct RetryLoop {
    let target: DatabaseTarget
    let step: PlannedStep
    private(set) var attempt = 0
    private(set) var totalAttempts = 0
    var blockers: [LockBlocker] = []

    init(target: DatabaseTarget, step: PlannedStep) {
        self.target = target
        self.step = step
    }

    var isLastAttempt: Bool { attempt >= target.settings.retry.attempts }

    /// Call after a unit of durable progress.
    mutating func progressed() { attempt = 1 }

    static func isRetryable(_ error: PostgresError) -> Bool {
        error.isLockTimeout || error.isConnectionProblem
    }

    /// Whether to try again; sleeps the backoff when so.
    mutating func shouldRetry(after error: PostgresError) async -> Bool {
        guard Self.isRetryable(error), !isLastAttempt, !Task.isCancelled else { return false }
        let delay = Backoff(target.settings.retry).delay(afterAttempt: attempt)
        do { try await Task.sleep(for: delay) } catch { return false }
        return true
    }

    mutating func begin() {
        attempt += 1
        totalAttempts += 1
    }

    /// The error a caller sees once no retry is left.
    func finalError(_ failure: StatementError) -> RunnerError {
        let error = failure.error
        if Task.isCancelled && (error.kind == .cancelled || error.isQueryCanceled) {
            return .cancelled(database: target.name, revision: step.revision, phase: step.phase)
        }
        if error.isLockTimeout {
            return .lockTimeoutExhausted(
                database: target.name, revision: step.revision, phase: step.phase, attempts: totalAttempts, statement: failure.statement, blockers: blockers)
        }
        // The server went away (also in the middle of a statement, or while shutting
        // down): the database is unreachable, not the revision broken.
        if error.isConnectionProblem {
            return .connectionFailed(database: target.name, attempts: totalAttempts, error: error)
        }
        return .statementFailed(database: target.name, revision: step.revision, phase: step.phase, statement: failure.statement, error: error)
    }
}
