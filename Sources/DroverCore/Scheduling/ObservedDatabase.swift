import Foundation

/// A database's observed state: what its tracking table, its connection and the
/// advisory lock said at the last poll.
public struct ObservedDatabase: Sendable, Hashable {
    public var reachable: Bool
    public var records: [TrackingRecord]
    /// Another session holds drover's advisory lock.
    public var lockedBy: Int32?
    public var observedAt: Date
    /// The rows of the database's Alembic version table; `nil` when it has none.
    public var alembicVersions: [String]?
    /// Why the last read or phase could not reach the database, for status.
    public var problem: String?

    public init(
        reachable: Bool, records: [TrackingRecord] = [], lockedBy: Int32? = nil, observedAt: Date, alembicVersions: [String]? = nil, problem: String? = nil
    ) {
        self.reachable = reachable
        self.records = records
        self.lockedBy = lockedBy
        self.observedAt = observedAt
        self.alembicVersions = alembicVersions
        self.problem = problem
    }
}
