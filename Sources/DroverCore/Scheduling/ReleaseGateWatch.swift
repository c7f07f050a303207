import Foundation

/// Whether each gated tier's clients have moved to its target: fed what
/// `pg_stat_activity` shows on the tier's databases, it says when to release and,
/// meanwhile, what the tier waits on. Plain state, no I/O.
public struct ReleaseGateWatch: Sendable {
    /// Since when every client of a tier announced its target (and which).
    private var satisfied: [String: (target: String, since: Date)] = [:]
    /// What each gated tier waits on, for status ("production: 3 sessions of 9f3a6c2e8b15").
    public private(set) var waitingOn: [String: String] = [:]

    public init() {}

    /// `sessions`: the `application_name` of every client session on the tier's
    /// databases. Returns true when `target` may be released now. A client that
    /// names a revision the repository does not know counts as one not moved yet;
    /// with no client of the application at all nothing is proven, and the tier waits.
    public mutating func observed(tier: String, gate: ReleaseGate, target: String, graph: RevisionGraph, sessions: [String], now: Date) -> Bool {
        let announced = sessions.compactMap(gate.announcedRevision)
        let behind = announced.filter { revision in
            guard case .success(let id) = graph.resolve(revision) else { return true }
            return !graph.isAncestor(target, of: id)
        }
        if !behind.isEmpty {
            let revisions = Set(behind).sorted().map { String($0.prefix(12)) }.joined(separator: ", ")
            wait(tier, "\(tier): \(behind.count) session\(behind.count == 1 ? "" : "s") of \(revisions)")
            return false
        }
        guard !announced.isEmpty else {
            wait(tier, "\(tier): no session of \(gate.clients) yet")
            return false
        }
        let since = satisfied[tier].flatMap { $0.target == target ? $0.since : nil } ?? now
        satisfied[tier] = (target, since)
        let settled = now.timeIntervalSince(since)
        if settled >= gate.settle.seconds {
            forget(tier)
            return true
        }
        waitingOn[tier] =
            "\(tier): every session at \(target.prefix(12)) or later for \(DurationText.format(.seconds(Int64(settled)))) of \(DurationText.format(gate.settle))"
        return false
    }

    /// The tier has nothing to wait for (released, no target, no gate).
    public mutating func forget(_ tier: String) {
        satisfied[tier] = nil
        waitingOn[tier] = nil
    }

    private mutating func wait(_ tier: String, _ reason: String) {
        satisfied[tier] = nil
        waitingOn[tier] = reason
    }
}
