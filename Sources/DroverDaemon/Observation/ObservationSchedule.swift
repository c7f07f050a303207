import DroverCore
import Foundation

/// When each database's tracking table is read next, and whether a read that comes
/// back is still current. Plain state, no I/O: `Fleet+Observation.swift` does the
/// reads.
///
/// A database is read a poll interval after its last read (or its last phase,
/// which read the rows under the lock), four intervals when it is at rest, up to a
/// tenth earlier so that polls of different servers drift apart. From halfway
/// there it joins a read of its server that is due: schema tenants of one
/// database cost one batch per interval. A conninfo whose reads take long (tens of
/// thousands of schema tenants) is read at most `readShare` of the time: a read
/// that took 4 s waits 200 s, unless a database of it was never read or is asked
/// for (`soon`). Its phases read their rows under their locks anyway.
struct ObservationSchedule {
    let pollInterval: Duration
    static let restingFactor = 4.0
    static let readShare = 0.02

    private(set) var next: [String: (halfway: Date, due: Date)] = [:]
    /// By conninfo: no read before this, after a long one (`readShare`).
    private(set) var notBefore: [String: Date] = [:]
    /// No read is due before this: most rounds skip the walk over the fleet.
    private(set) var nextCheck = Date.distantPast
    /// Each database's phase starts and ends: a read that began before the latest
    /// of them is stale (it may show the phase's lock and not its row).
    private var phaseEvents: [String: Int] = [:]

    init(pollInterval: Duration) { self.pollInterval = pollInterval }

    /// The databases to read now, by conninfo: those due, and those halfway to due
    /// that share a conninfo with one due. `busy`: a phase runs on it (its phase
    /// reads it).
    mutating func due(_ databases: [DatabaseSpec], now: Date, busy: (String) -> Bool) -> [String: [DatabaseSpec]] {
        guard now >= nextCheck else { return [:] }
        var dueDSNs: Set<String> = []
        var earliest = Date.distantFuture
        // Tenants of one conninfo come one after another: its hold is looked up once.
        var held: (dsn: String, until: Date?)?
        for spec in databases where !busy(spec.name) {
            guard let next = next[spec.name] else {
                dueDSNs.insert(spec.dsn)  // never read, or asked for
                continue
            }
            if held?.dsn != spec.dsn { held = (spec.dsn, notBefore[spec.dsn]) }
            // Held back, a tenant's own due time does not count: no walk over the
            // fleet at every round until the hold ends.
            let due = max(next.due, held?.until ?? next.due)
            if due > now {
                earliest = min(earliest, due)
                continue
            }
            dueDSNs.insert(spec.dsn)
        }
        nextCheck = earliest
        guard !dueDSNs.isEmpty else { return [:] }
        // One copy of each spec read (100,000 of them are 40 MB), not a filtered
        // list and then its groups.
        var groups: [String: [DatabaseSpec]] = [:]
        for spec in databases where !busy(spec.name) && dueDSNs.contains(spec.dsn) && (next[spec.name].map { $0.halfway <= now } ?? true) {
            groups[spec.dsn, default: []].append(spec)
        }
        return groups
    }

    /// `name` was read (or its phase ended) at `at`. `jitter`: the fraction of the
    /// interval the next read comes early.
    mutating func read(_ name: String, at: Date, atRest: Bool, jitter: Double = Double.random(in: 0...0.1)) {
        let interval = pollInterval.seconds * (atRest ? Self.restingFactor : 1)
        let due = at.addingTimeInterval(interval * (1 - jitter))
        next[name] = (halfway: at.addingTimeInterval(interval / 2), due: due)
        nextCheck = min(nextCheck, due)
    }

    /// A read of `dsn`'s databases began at `began` and took `took`: a long one
    /// holds the next back (`readShare`).
    mutating func groupRead(_ dsn: String, began: Date, took: Duration) {
        let gap = took.seconds / Self.readShare
        // Only reads of thousands of tenants are long: a small fleet on a busy
        // machine keeps its poll interval.
        notBefore[dsn] = took >= Self.longRead && gap > pollInterval.seconds ? began.addingTimeInterval(gap) : nil
    }

    static let longRead: Duration = .seconds(1)

    /// Read `name` at the next round (after a phase failed, an operator acted).
    mutating func soon(_ name: String) {
        next[name] = nil
        nextCheck = .distantPast
    }

    /// A phase of `name` started or ended.
    mutating func phaseEvent(_ name: String) { phaseEvents[name, default: 0] += 1 }

    /// What to compare a read's results with when it comes back (`isCurrent`).
    var marks: [String: Int] { phaseEvents }

    /// Whether a read that began at `marks` still says something about `name`.
    func isCurrent(_ name: String, since marks: [String: Int]) -> Bool {
        phaseEvents[name, default: 0] == marks[name, default: 0]
    }
}
