import Foundation

/// One droverd's view of the fleet's lease when several share a PostgreSQL state
/// store. A value type: the I/O layer asks the state database to take or renew the
/// lease (the database's clock decides who holds it) and feeds the answers in; the
/// actions say when this instance starts or stops leading. Times are monotonic
/// offsets from any origin, so tests inject them.
public struct LeaderElection: Sendable {
    /// The lease as the state database answered it.
    public struct Holder: Sendable, Hashable {
        public var instance: String
        public var host: String
        public var pid: Int32
        /// Counts takeovers: a new leader has a higher term than the one it replaced.
        public var term: Int64
        public var since: Date

        public init(instance: String, host: String, pid: Int32, term: Int64, since: Date) {
            self.instance = instance
            self.host = host
            self.pid = pid
            self.term = term
            self.since = since
        }
    }

    public enum State: Sendable, Hashable {
        /// `leader` is nil until the state database has answered once (or when the
        /// lease row names nobody).
        case follower(leader: Holder?)
        case leader(Holder, validUntil: Duration)
    }

    public enum Action: Sendable, Hashable {
        case none
        /// This instance holds the lease: load the shared state, then schedule.
        case lead(Holder)
        /// Another instance leads (or nobody is known to): stop starting phases.
        case follow(leader: Holder?)
    }

    public let instance: String
    public let lease: Duration
    public private(set) var state: State = .follower(leader: nil)

    public init(instance: String, lease: Duration) {
        self.instance = instance
        self.lease = lease
    }

    /// How often the lease is renewed (and a follower tries to take it).
    public var renewalInterval: Duration { lease / 3 }

    /// Held back from the lease: a leader stops starting phases this long before the
    /// state database would let another instance take over, so slow answers and
    /// clocks running at slightly different rates cannot give two leaders.
    public var margin: Duration { lease / 5 }

    /// The state database answered an attempt sent at `sentAt`: `holder` has the lease.
    /// Validity counts from the sending, which is before the database set the expiry.
    public mutating func answered(holder: Holder?, sentAt: Duration, now: Duration) -> Action {
        if let holder, holder.instance == instance {
            let validUntil = sentAt + lease - margin
            guard now < validUntil else { return tick(now: now) }
            let wasLeading = if case .leader(let current, _) = state { current.term == holder.term } else { false }
            state = .leader(holder, validUntil: validUntil)
            return wasLeading ? .none : .lead(holder)
        }
        // Another holds it (or nobody): a leader steps down; a follower learns of a change.
        if case .follower(let known) = state, known == holder { return .none }
        state = .follower(leader: holder)
        return .follow(leader: holder)
    }

    /// Time passed without an answer (the state database is unreachable, or this
    /// process was stopped): a leader whose lease ran out steps down.
    public mutating func tick(now: Duration) -> Action {
        guard case .leader(_, let validUntil) = state, now >= validUntil else { return .none }
        state = .follower(leader: nil)
        return .follow(leader: nil)
    }

    /// Whether a phase may start now: only while the lease is surely held.
    public func mayLead(at now: Duration) -> Bool {
        if case .leader(_, let validUntil) = state { now < validUntil } else { false }
    }

    public var leader: Holder? {
        switch state {
        case .leader(let holder, _): holder
        case .follower(let leader): leader
        }
    }

    public var isLeader: Bool {
        if case .leader = state { true } else { false }
    }
}
