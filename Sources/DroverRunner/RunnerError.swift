import DroverCore
import DroverPostgres

/// Why a phase did not complete. Every case carries what an operator needs to act,
/// and none carries a password.
public enum RunnerError: Error, Sendable, CustomStringConvertible {
    /// Another session holds the database's advisory lock (another daemon, or a
    /// person running migrations by hand). Try again later.
    case locked(database: String, holderPID: Int32?)
    /// An applied section no longer matches its file; nothing is run until an
    /// operator restores the file or stamps the new text.
    case tampered(database: String, sections: [TamperedSection])
    /// A statement failed. `statement` names file:line and its first line.
    case statementFailed(database: String, revision: String, phase: Phase, statement: StatementReference?, error: PostgresError)
    /// Lock waits ran past `lock_timeout` on every attempt.
    case lockTimeoutExhausted(database: String, revision: String, phase: Phase, attempts: Int, statement: StatementReference?, blockers: [LockBlocker])
    /// The connection could not be (re)established or broke on every attempt.
    case connectionFailed(database: String, attempts: Int, error: PostgresError)
    /// The phase was cancelled (window end, shutdown); its transaction rolled back.
    case cancelled(database: String, revision: String, phase: Phase)
    /// A throttled backfill waited `max_wait` and stopped; its batches stay.
    case throttledTooLong(database: String, revision: String, waited: Duration, reason: String)
    /// A before-phase hook failed or timed out; the phase did not start.
    case hookFailed(database: String, command: String, reason: String)
    /// Refused before anything ran.
    case refused(database: String, reason: String)
    case passwordFileUnreadable(database: String, path: String)
    /// `alembic upgrade` did not apply the revision; `reason` has Alembic's last
    /// error lines, `output` all it printed (passwords removed).
    case alembicFailed(database: String, revision: String, phase: Phase, reason: String, output: String)

    /// What a helper program printed, for history.
    public var output: String? {
        if case .alembicFailed(_, _, _, _, let output) = self { return output }
        return nil
    }

    public var description: String {
        switch self {
        case .locked(let database, let pid):
            return "\(database): locked: another session holds drover's advisory lock" + (pid.map { " (pid \($0))" } ?? "")
        case .tampered(let database, let sections):
            return "\(database): tampered: " + sections.map(\.description).joined(separator: "; ")
        case .statementFailed(let database, let revision, let phase, let statement, let error):
            return "\(database): \(phase.rawValue) of \(revision) failed" + (statement.map { " at \($0)" } ?? "") + ": \(error)"
        case .lockTimeoutExhausted(let database, let revision, let phase, let attempts, let statement, let blockers):
            let who = blockers.isEmpty ? "the blocking session was not identified" : "blocked by " + blockers.map(\.description).joined(separator: ", ")
            return "\(database): \(phase.rawValue) of \(revision) gave up after \(attempts) lock timeouts" + (statement.map { " at \($0)" } ?? "") + "; \(who)"
        case .connectionFailed(let database, let attempts, let error):
            return "\(database): cannot connect (\(attempts) attempt\(attempts == 1 ? "" : "s")): \(error.message)"
        case .cancelled(let database, let revision, let phase):
            return "\(database): \(phase.rawValue) of \(revision) was cancelled and rolled back"
        case .throttledTooLong(let database, let revision, let waited, let reason):
            return "\(database): backfill of \(revision) throttled for \(DurationText.format(waited)) (max_wait): \(reason); it goes on later where it stopped"
        case .hookFailed(let database, let command, let reason):
            return "\(database): before-phase hook \(command) \(reason); the phase did not start"
        case .refused(let database, let reason):
            return "\(database): \(reason)"
        case .passwordFileUnreadable(let database, let path):
            return "\(database): cannot read password_file \(path)"
        case .alembicFailed(let database, let revision, let phase, let reason, _):
            return "\(database): \(phase.rawValue) of \(revision) failed: \(reason)"
        }
    }
}

/// A statement of a revision file, for error messages.
public struct StatementReference: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var summary: String

    public var description: String { "\(location) '\(summary)'" }
}

/// A session that held a lock drover waited for.
public struct LockBlocker: Sendable, Hashable, CustomStringConvertible {
    public var pid: Int32
    public var user: String?
    public var application: String?
    public var state: String?
    public var query: String?

    public var description: String {
        var parts = ["pid \(pid)"]
        if let user { parts.append("user \(user)") }
        if let application, !application.isEmpty { parts.append("application '\(application)'") }
        if let state { parts.append(state) }
        if let query, !query.isEmpty { parts.append("query '\(query)'") }
        return parts.joined(separator: ", ")
    }
}
