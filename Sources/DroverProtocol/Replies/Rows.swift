import DroverCore
import Foundation

/// `Windows`: one row per database.
public struct WindowRow: Sendable, Codable, Hashable {
    public var database: String
    public var window: String
    /// The window's own zone (IANA name); `nil` for `always`.
    public var timezone: String?
    public var open: Bool
    public var next_open: String?
    public var next_close: String?

    public init(database: String, window: String, timezone: String?, open: Bool, next_open: String?, next_close: String?) {
        self.database = database
        self.window = window
        self.timezone = timezone
        self.open = open
        self.next_open = next_open
        self.next_close = next_close
    }
}

/// `Drift`: one database that differs from the others at its revision.
public struct DriftReport: Sendable, Codable, Hashable {
    public var database: String
    public var revision: String
    /// What differs from `reference`; never empty.
    public var differences: [String]
    /// The database compared against: the first by name among the majority.
    public var reference: String?
    /// No schema is shared by more databases than every other: `reference` is then
    /// simply the first database by name at the revision.
    public var tie: Bool?

    public init(database: String, revision: String, differences: [String], reference: String? = nil, tie: Bool? = nil) {
        self.database = database
        self.revision = revision
        self.differences = differences
        self.reference = reference
        self.tie = tie
    }
}

/// `History`: one phase applied, failed, stamped or reverted.
public struct HistoryRow: Sendable, Codable, Hashable {
    public var database: String
    public var revision: String
    public var phase: Phase
    public var outcome: String
    public var started_at: Date
    public var finished_at: Date
    public var seconds: Double
    public var rows: Int
    public var error: String?
    public var actor: String
    public var output: String?

    public init(
        database: String, revision: String, phase: Phase, outcome: String, started_at: Date, finished_at: Date, rows: Int, error: String?, actor: String,
        output: String? = nil
    ) {
        self.output = output
        self.database = database
        self.revision = revision
        self.phase = phase
        self.outcome = outcome
        self.started_at = started_at
        self.finished_at = finished_at
        self.seconds = (finished_at.timeIntervalSince(started_at) * 1000).rounded() / 1000
        self.rows = rows
        self.error = error
        self.actor = actor
    }
}

/// `Watch`: a change the daemon made or saw.
public struct FleetEvent: Sendable, Codable, Hashable {
    public var at: Date
    public var database: String?
    public var tier: String?
    public var revision: String?
    public var phase: Phase?
    public var kind: String
    public var message: String

    public init(at: Date, database: String?, tier: String?, revision: String?, phase: Phase?, kind: String, message: String) {
        self.at = at
        self.database = database
        self.tier = tier
        self.revision = revision
        self.phase = phase
        self.kind = kind
        self.message = message
    }
}

/// The reply of every changing method: what it did, or that nothing changed.
public struct MessageReply: Sendable, Codable, Hashable {
    public var message: String
    public init(message: String) { self.message = message }
}

public struct HistoryReply: Sendable, Codable, Hashable {
    public var entries: [HistoryRow]
    public init(entries: [HistoryRow]) { self.entries = entries }
}

public struct DriftReply: Sendable, Codable, Hashable {
    public var databases: [DriftReport]
    public init(databases: [DriftReport]) { self.databases = databases }
}

public struct WindowsReply: Sendable, Codable, Hashable {
    public var windows: [WindowRow]
    public init(windows: [WindowRow]) { self.windows = windows }
}

public struct WatchReply: Sendable, Codable, Hashable {
    public var event: FleetEvent
    public init(event: FleetEvent) { self.event = event }
}
