import DroverCore
import Foundation

/// How a phase ended, as the state store keeps it.
public struct PhaseEnd: Sendable {
    public var database: String
    public var step: PlannedStep
    /// Nil when nothing happened worth a history line (found applied, cancelled).
    public var history: HistoryEntry?
    public var result: Result

    public enum Result: Sendable {
        /// Applied: how long it took (the window gate's expectation next time) and,
        /// for a whole database, its schema fingerprint.
        case applied(expectedDuration: (key: String, duration: Duration), fingerprint: (revision: String, snapshot: SchemaSnapshot)?)
        /// Did not apply; `failure`: the failure that waits for `retry`, if it is one.
        case notApplied(failure: DatabaseRuntime.Failure?)
        /// Applied by the run of another step (one `alembic upgrade`): its history only.
        case appliedAlong
    }

    public init(database: String, step: PlannedStep, history: HistoryEntry?, result: Result) {
        self.database = database
        self.step = step
        self.history = history
        self.result = result
    }
}

extension StateStore {
    /// Writes one piece of the scheduler's state (`SchedulerAction.persist`).
    public func save(_ change: StoredChange) async throws {
        switch change {
        case .tier(let tier, let control): try await save(tier: tier, control)
        case .paused(let name, let paused, let reason): try await setPaused(name, paused, reason: reason)
        case .failure(let name, let failure): try await setFailure(name, failure)
        }
    }

    /// What one round of the loop leaves in the state store, in one transaction: the
    /// phases that ended since the last round, then the intents of those that start
    /// now. A phase never starts without its intent on disk: after a crash nothing
    /// else would tell which phase was in flight. A round with no intent and no
    /// failure is not synced on its own (lost to a power cut, a phase's intent stays,
    /// and reconciling it writes the history from the database's tracking row).
    /// Only an ended phase's own intent is cleared: the database's next phase may
    /// have recorded its intent before this end was written.
    nonisolated(nonsending) public func recordRound(ends: [PhaseEnd], intents: [(name: String, step: PlannedStep)], at date: Date) async throws {
        var statements: [StateStatement] = []
        var durable = !intents.isEmpty
        for end in ends {
            let (name, step) = (end.database, end.step)
            let clearIntent = StateStatement(
                "DELETE FROM intents WHERE database = ? AND revision = ? AND phase = ?", [name, step.revision, step.phase.rawValue])
            switch end.result {
            case .appliedAlong:
                break
            case .applied(let expected, let fingerprint):
                statements.append(clearIntent)
                statements.append(StateStatement("UPDATE databases SET failure = NULL WHERE name = ? AND failure IS NOT NULL", [name]))
                statements.append(
                    StateStatement(
                        "INSERT INTO expected_durations (key, milliseconds) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET milliseconds = excluded.milliseconds",
                        [expected.key, String(expected.duration.milliseconds)]))
                if let fingerprint { statements.append(try Self.fingerprintUpsert(name, fingerprint.revision, fingerprint.snapshot, at: date)) }
            case .notApplied(let failure):
                statements.append(clearIntent)
                if let failure {
                    durable = true
                    statements.append(
                        StateStatement(
                            "INSERT INTO databases (name, failure) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET failure = excluded.failure",
                            [name, try Self.encode(failure)]))
                }
            }
            if let history = end.history { statements.append(Self.historyInsert(history)) }
        }
        let time = Self.time(date)
        for intent in intents {
            statements.append(
                StateStatement(
                    "INSERT INTO intents (database, revision, phase, started_at) VALUES (?, ?, ?, ?) ON CONFLICT (database) DO UPDATE SET revision = excluded.revision, phase = excluded.phase, started_at = excluded.started_at",
                    [intent.name, intent.step.revision, intent.step.phase.rawValue, time]))
        }
        guard !statements.isEmpty else { return }
        try await backend.transaction(statements, durable: durable)
    }
}
