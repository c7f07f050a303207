import DroverCore
import Foundation

/// `droverctl status --json` (SPEC §8): `{"databases": [...], "tiers": [...]}`.
public struct FleetStatus: Sendable, Codable, Hashable {
    public var databases: [DatabaseRow]
    public var tiers: [TierRow]

    public struct DatabaseRow: Sendable, Codable, Hashable {
        public var name: String
        public var tier: String
        public var wave: String?
        /// host:port, never the full conninfo.
        public var server: String?
        public var schema: String?
        public var expanded: String?
        public var contracted: String?
        public var target: String?
        public var state: DatabaseStateWord
        public var next_window: String?
        public var error: String?
        public var alembic: String?
    }

    public struct TierRow: Sendable, Codable, Hashable {
        public var name: String
        public var target: String?
        public var released: String?
        /// `idle`, `rolling`, `halted`, `paused` or `done`.
        public var state: String
        public var wave: String?
        public var failed: [String]
    }

    public func database(_ name: String) -> DatabaseRow? { databases.first { $0.name == name } }
    public func tier(_ name: String) -> TierRow? { tiers.first { $0.name == name } }
}

/// A change the daemon made or saw, for `droverctl watch` and the log.
public struct FleetEvent: Sendable, Codable, Hashable {
    public var at: Date
    public var database: String?
    public var tier: String?
    public var revision: String?
    public var phase: Phase?
    public var kind: String
    public var message: String
}

/// Who asked, from the control socket's peer credentials (written to the audit log).
public struct Caller: Sendable, Hashable {
    public var uid: UInt32?
    public var pid: Int32?

    public init(uid: UInt32? = nil, pid: Int32? = nil) {
        self.uid = uid
        self.pid = pid
    }

    public static let daemon = Caller()
}
