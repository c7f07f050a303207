import Foundation

/// Status of one phase of one revision in a database's tracking table (docs/tracking.md).
public enum TrackingStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case running
    case applied
    case failed
    case reverted
    case stamped

    /// Counts as done for planning.
    public var isDone: Bool { self == .applied || self == .stamped }
}

/// One row of `<tracking_schema>.revisions`: the database's own record of a phase.
public struct TrackingRecord: Sendable, Hashable, Codable {
    public var revision: String
    public var phase: Phase
    public var status: TrackingStatus
    public var checksum: String?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var rowsAffected: Int
    /// For no-transaction sections: statements done so far, and in all.
    public var statementsApplied: Int
    public var statementsTotal: Int
    public var appliedBy: String
    public var error: String?
    public var note: String?

    public init(
        revision: String, phase: Phase, status: TrackingStatus, checksum: String? = nil,
        startedAt: Date? = nil, finishedAt: Date? = nil, rowsAffected: Int = 0,
        statementsApplied: Int = 0, statementsTotal: Int = 0, appliedBy: String = "drover",
        error: String? = nil, note: String? = nil
    ) {
        self.revision = revision
        self.phase = phase
        self.status = status
        self.checksum = checksum
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.rowsAffected = rowsAffected
        self.statementsApplied = statementsApplied
        self.statementsTotal = statementsTotal
        self.appliedBy = appliedBy
        self.error = error
        self.note = note
    }
}
