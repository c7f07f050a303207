/// Who is on the other end of a connection, from SO_PEERCRED and the user
/// database: nothing a client sends can change it.
public struct PeerIdentity: Sendable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32
    public var user: String?
    /// The user's groups (supplementary and primary), from the group database.
    public var groups: [UInt32]

    public init(uid: UInt32, gid: UInt32, pid: Int32, user: String?, groups: [UInt32]) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.user = user
        self.groups = groups
    }
}

/// What a peer may do (docs/varlink.md): root and members of the operators group change
/// things; everyone else who can open the socket reads.
public enum Role: Sendable, Hashable {
    case `operator`
    case reader
}

public struct Authorization: Sendable {
    /// `fleet.operators_group`.
    public var operatorsGroup: String
    /// Its gid; `nil` when the machine has no such group (then only root changes things).
    public var operatorsGroupID: UInt32?

    public init(operatorsGroup: String, operatorsGroupID: UInt32?) {
        self.operatorsGroup = operatorsGroup
        self.operatorsGroupID = operatorsGroupID
    }

    public func role(of peer: PeerIdentity) -> Role {
        if peer.uid == 0 { return .operator }
        guard let group = operatorsGroupID else { return .reader }
        return peer.gid == group || peer.groups.contains(group) ? .operator : .reader
    }
}
