/// The parameters of each `io.drover.Fleet` call, as the interface description
/// declares them. droverctl encodes them; droverd decodes them, and a field of the
/// wrong type is an `org.varlink.service.InvalidParameter` naming it.
public enum FleetParameters {
    public struct Status: Codable, Sendable {
        public var tier: String?
        public var db: String?
        /// Only databases in this state (a `DatabaseStateWord`).
        public var state: String?
        public init(tier: String? = nil, db: String? = nil, state: String? = nil) {
            self.tier = tier
            self.db = db
            self.state = state
        }
    }

    public struct Plan: Codable, Sendable {
        public var revision: String
        public var to: String?
        /// List every database, also in a tier larger than `PlanReport.listLimit`.
        public var all: Bool?
        public init(revision: String, to: String? = nil, all: Bool? = nil) {
            self.revision = revision
            self.to = to
            self.all = all
        }
    }

    public struct History: Codable, Sendable {
        public var db: String?
        public init(db: String? = nil) { self.db = db }
    }

    /// Drift, Windows, Reload.
    public struct None: Codable, Sendable {
        public init() {}
    }

    public struct Watch: Codable, Sendable {
        /// Only events of these kinds; `nil`: every event.
        public var kinds: [String]?
        public init(kinds: [String]? = nil) { self.kinds = kinds }
    }

    public struct Promote: Codable, Sendable {
        public var revision: String
        public var to: String?
        public var force: Bool?
        public var reason: String?
        /// The `plan_hash` the operator approved (`droverctl plan`).
        public var plan_hash: String?
        public init(revision: String, to: String? = nil, force: Bool? = nil, reason: String? = nil, plan_hash: String? = nil) {
            self.revision = revision
            self.to = to
            self.force = force
            self.reason = reason
            self.plan_hash = plan_hash
        }
    }

    public struct Release: Codable, Sendable {
        public var revision: String
        public var tier: String?
        public init(revision: String, tier: String? = nil) {
            self.revision = revision
            self.tier = tier
        }
    }

    public struct Deploy: Codable, Sendable {
        public var revision: String
        public var tier: String
        public init(revision: String, tier: String) {
            self.revision = revision
            self.tier = tier
        }
    }

    /// Pause and Resume: a tier, a database, or (neither) every tier.
    public struct Scope: Codable, Sendable {
        public var tier: String?
        public var db: String?
        public init(tier: String? = nil, db: String? = nil) {
            self.tier = tier
            self.db = db
        }
    }

    /// Cancel: a database or a tier, and why.
    public struct Cancel: Codable, Sendable {
        public var db: String?
        public var tier: String?
        public var reason: String?
        public init(db: String? = nil, tier: String? = nil, reason: String? = nil) {
            self.db = db
            self.tier = tier
            self.reason = reason
        }
    }

    /// Retry and Adopt.
    public struct Database: Codable, Sendable {
        public var db: String
        public init(db: String) { self.db = db }
    }

    public struct Revert: Codable, Sendable {
        public var db: String
        public var revision: String
        public init(db: String, revision: String) {
            self.db = db
            self.revision = revision
        }
    }

    public struct Stamp: Codable, Sendable {
        public var db: String
        public var revision: String
        public var phase: String?
        public var reason: String
        public init(db: String, revision: String, phase: String? = nil, reason: String) {
            self.db = db
            self.revision = revision
            self.phase = phase
            self.reason = reason
        }
    }
}
