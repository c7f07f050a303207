/// Manifest key `throttle` (docs/manifest.md): what a backfill waits for between batches,
/// and the batch duration it aims for. Each limit is off when not set.
public struct Throttle: Sendable, Hashable {
    /// The most replication lag any standby may have (`pg_stat_replication` on the primary).
    public var maxReplicaLag: Duration?
    /// Wait while an autovacuum works on the backfilled table.
    public var autovacuum: AutovacuumPolicy = .ignore
    /// The most sessions that may wait for a lock on the backfilled table.
    public var maxLockWaiters: Int?
    /// Batch sizes adapt towards this duration, between `batch/8` and `batch*8`.
    public var targetBatchDuration: Duration?
    /// The longest a backfill waits at a stretch: then it ends, gives back its
    /// connection, lock and concurrency slot, and starts again later where it stopped.
    public var maxWait: Duration = Self.defaultMaxWait

    public static let defaultMaxWait: Duration = .seconds(3600)

    public init(
        maxReplicaLag: Duration? = nil, autovacuum: AutovacuumPolicy = .ignore, maxLockWaiters: Int? = nil, targetBatchDuration: Duration? = nil,
        maxWait: Duration = Self.defaultMaxWait
    ) {
        self.maxReplicaLag = maxReplicaLag
        self.autovacuum = autovacuum
        self.maxLockWaiters = maxLockWaiters
        self.targetBatchDuration = targetBatchDuration
        self.maxWait = maxWait
    }

    public enum AutovacuumPolicy: String, Sendable, Hashable, CaseIterable {
        case wait, ignore
    }

    /// Whether anything is checked between batches.
    public var checksBetweenBatches: Bool { maxReplicaLag != nil || autovacuum == .wait || maxLockWaiters != nil }

    /// Why the backfill must wait now, or `nil`: the first limit `readings` exceed.
    public func reason(_ readings: ThrottleReadings) -> String? {
        if let limit = maxReplicaLag {
            // A standby silent for longer than the limit (plus the ten seconds it may
            // take between status messages) counts as lagging.
            for standby in readings.standbys {
                if let lag = standby.replayLag, lag > limit {
                    return "replica lag \(DurationText.format(lag)) > \(DurationText.format(limit)) (\(standby.name))"
                }
                if standby.silence > limit + .seconds(10) {
                    return "standby \(standby.name) silent for \(DurationText.format(standby.silence))"
                }
            }
        }
        if autovacuum == .wait, let table = readings.autovacuumOn { return "autovacuum on \(table)" }
        if let limit = maxLockWaiters, readings.lockWaiters > limit {
            return "\(readings.lockWaiters) session\(readings.lockWaiters == 1 ? "" : "s") waiting for locks on the table > \(limit)"
        }
        return nil
    }
}

/// What the runner read between two batches.
public struct ThrottleReadings: Sendable, Hashable {
    public struct Standby: Sendable, Hashable {
        public var name: String
        /// `replay_lag`; `nil` when the standby has replayed everything.
        public var replayLag: Duration?
        /// Since the standby's last status message (`reply_time`).
        public var silence: Duration

        public init(name: String, replayLag: Duration?, silence: Duration) {
            self.name = name
            self.replayLag = replayLag
            self.silence = silence
        }
    }

    public var standbys: [Standby]
    /// The backfilled table, when an autovacuum works on it.
    public var autovacuumOn: String?
    public var lockWaiters: Int

    public init(standbys: [Standby] = [], autovacuumOn: String? = nil, lockWaiters: Int = 0) {
        self.standbys = standbys
        self.autovacuumOn = autovacuumOn
        self.lockWaiters = lockWaiters
    }
}

/// Batch sizes that adapt to a target duration: at most 10 % larger or 20 % smaller
/// than the last, between an eighth and eight times the section's `batch`.
public struct BatchSizer: Sendable, Hashable {
    public let base: Int
    public let target: Duration?
    public private(set) var size: Int

    public init(batch: Int, target: Duration?) {
        base = batch
        self.target = target
        size = batch
    }

    public var bounds: ClosedRange<Int> { max(1, base / 8)...max(1, base * 8) }

    /// A batch of `size` rows took `took`: the next size. A batch of fewer than ten
    /// rows that should grow grows by one.
    public mutating func batchTook(_ took: Duration) {
        guard let target, took > .zero else { return }
        let ideal = Double(size) * (target / took)
        let next = min(max(ideal, Double(size) * 0.8), Double(size) * 1.1)
        var rounded = Int(next.rounded(.down))
        if next > Double(size), rounded == size { rounded += 1 }
        size = min(max(rounded, bounds.lowerBound), bounds.upperBound)
    }
}
