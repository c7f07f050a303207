/// Caps on open control connections, in total and per uid, so that one user's
/// thousand idle connections cannot lock everyone else out. A value type: the
/// server asks before it serves a connection and tells it when one ends.
public struct ConnectionLimits: Sendable {
    public enum Admission: Sendable, Equatable {
        case admitted
        /// `scope` is `"user"` or `"total"`.
        case refused(scope: String, limit: Int)
    }

    public let total: Int
    public let perUser: Int
    public private(set) var open: [UInt32: Int] = [:]
    public private(set) var openTotal = 0

    public init(total: Int, perUser: Int) {
        self.total = total
        self.perUser = perUser
    }

    public mutating func admit(uid: UInt32) -> Admission {
        // Root is held only by the total: an administrator can always get in to
        // look, even while an unprivileged user holds the per-user cap.
        if uid != 0 && open[uid, default: 0] >= perUser { return .refused(scope: "user", limit: perUser) }
        guard openTotal < total else { return .refused(scope: "total", limit: total) }
        open[uid, default: 0] += 1
        openTotal += 1
        return .admitted
    }

    public mutating func release(uid: UInt32) {
        guard let count = open[uid] else { return }
        open[uid] = count > 1 ? count - 1 : nil
        openTotal -= 1
    }
}
