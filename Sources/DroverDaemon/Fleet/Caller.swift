/// Who asked, from the control socket's peer credentials (never from the message):
/// written to the audit log, and as the actor of manual phases in history.
public struct Caller: Sendable, Hashable {
    public var uid: UInt32?
    public var gid: UInt32?
    public var pid: Int32?
    /// The user name of `uid`, when it has one.
    public var user: String?

    public init(uid: UInt32? = nil, gid: UInt32? = nil, pid: Int32? = nil, user: String? = nil) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.user = user
    }

    /// The daemon itself (SIGHUP, tests).
    public static let daemon = Caller()

    /// "alice (uid 1000)"; the part of the daemon that acted ("release_when"), or
    /// `nil` for the daemon.
    public var name: String? {
        guard let uid else { return user }
        return user.map { "\($0) (uid \(uid))" } ?? "uid \(uid)"
    }
}
