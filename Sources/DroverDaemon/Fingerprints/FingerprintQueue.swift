import Foundation

/// Schema tenants' fingerprints waiting for their batch, by connection key
/// (database → revision), and when each key's first and last were queued. Plain
/// state: `Fleet+Fingerprints.swift` reads the batches.
///
/// A database's batch is read once its phases were quiet for a second (none runs,
/// and its last fingerprint was queued a second ago: phases that start one after
/// another leave moments with none running), or once its first fingerprint waited
/// a minute. A read has a fixed cost of several milliseconds (planning alone about
/// 2 ms: every `CREATE TABLE` anywhere resets the plan cache): read as soon as any
/// were queued, the batches held four tenants on average and cost as much as one
/// by one; read beside a rollout, a tenant costs ten times what it costs on a quiet
/// database (`docs/benchmarks.md`). The minute bounds what a crash can lose (the
/// fingerprint is taken again at the tenant's next phase).
struct FingerprintQueue {
    static let batchDelay: Duration = .seconds(1)
    static let longestWait: Duration = .seconds(60)
    static let chunk = 500
    static let batchLimit = 2 * chunk

    private(set) var pending: [String: [String: String]] = [:]
    var queued: [String: (first: ContinuousClock.Instant, last: ContinuousClock.Instant)] = [:]

    var isEmpty: Bool { pending.isEmpty }

    mutating func queue(_ name: String, revision: String, key: String, at instant: ContinuousClock.Instant) {
        queued[key] = (first: queued[key]?.first ?? instant, last: instant)
        pending[key, default: [:]][name] = revision
    }

    func contains(_ name: String, key: String) -> Bool { pending[key]?[name] != nil }

    /// The keys whose batch is due at `instant` (`force`: all of them); `busy`: keys
    /// with a phase running.
    func dueKeys(at instant: ContinuousClock.Instant, busy: Set<String>, force: Bool) -> [String] {
        pending.keys.filter { key in
            guard !force, let queued = queued[key] else { return true }
            return Self.batchDue(waited: instant - queued.first, quietFor: instant - queued.last, databaseBusy: busy.contains(key))
        }
    }

    /// Up to `batchLimit` of the queued fingerprints of `keys`, taken out of the queue.
    mutating func take(_ keys: [String]) -> [String: [(name: String, revision: String)]] {
        let batch = Self.takeBatch(from: &pending, keys: keys, limit: Self.batchLimit)
        for key in batch.keys where pending[key] == nil { queued[key] = nil }
        return batch
    }

    static func batchDue(waited: Duration, quietFor: Duration, databaseBusy: Bool) -> Bool {
        waited >= longestWait || (quietFor >= batchDelay && !databaseBusy)
    }

    /// Up to `limit` of `pending`'s fingerprints of `keys`, by key, taken out (a key
    /// left empty is removed): the rows and snapshots of a batch are held at once,
    /// so the rest follows with the next batch.
    static func takeBatch(from pending: inout [String: [String: String]], keys: [String], limit: Int) -> [String: [(name: String, revision: String)]] {
        var batch: [String: [(name: String, revision: String)]] = [:]
        var taken = 0
        for key in keys.sorted() where taken < limit {
            let members = (pending[key] ?? [:]).sorted(by: { $0.key < $1.key }).prefix(limit - taken)
            guard !members.isEmpty else { continue }
            for (name, _) in members { pending[key]?[name] = nil }
            if pending[key]?.isEmpty == true { pending[key] = nil }
            batch[key] = members.map { (name: $0.key, revision: $0.value) }
            taken += members.count
        }
        return batch
    }
}
