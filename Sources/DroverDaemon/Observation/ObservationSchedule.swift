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
/// database cost one batch per interval.
struct ObservationSchedule {
    let pollInterval: Duration
    static let restingFactor = 4.0

    private(set) var next: [String: (halfway: Date, due: Date)] = [:]
    /// No read is due before this: most rounds skip the walk over the fleet.
    private var nextCheck = Date.distantPast
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
        for spec in databases where !busy(spec.name) {
            guard let next = next[spec.name], next.due > now else {
                dueDSNs.insert(spec.dsn)
                continue
            }
            earliest = min(earliest, next.due)
        }
        nextCheck = earliest
        guard !dueDSNs.isEmpty else { return [:] }
        return Dictionary(
            grouping: databases.filter { spec in
                !busy(spec.name) && dueDSNs.contains(spec.dsn) && (next[spec.name].map { $0.halfway <= now } ?? true)
            }, by: \.dsn)
    }

    /// `name` was read (or its phase ended) at `at`. `jitter`: the fraction of the
    /// interval the next read comes early.
    mutating func read(_ name: String, at: Date, atRest: Bool, jitter: Double = Double.random(in: 0...0.1)) {
        let interval = pollInterval.seconds * (atRest ? Self.restingFactor : 1)
        let due = at.addingTimeInterval(interval * (1 - jitter))
        next[name] = (halfway: at.addingTimeInterval(interval / 2), due: due)
        nextCheck = min(nextCheck, due)
    }

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
