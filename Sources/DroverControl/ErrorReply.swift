import DroverCore
import DroverDaemon
import DroverProtocol

/// A varlink error reply: the qualified error name and its parameters, each
/// `io.drover.Fleet` error with a `message` for people beside fields for programs.
struct ErrorReply: Error, Sendable {
    var name: String
    var parameters: [String: JSONValue]

    init(_ name: FleetErrorName, _ parameters: [String: JSONValue], message: String) {
        self.name = name.qualifiedName
        self.parameters = parameters.merging(["message": .string(message)]) { $1 }
    }

    init(_ name: ServiceErrorName, _ parameters: [String: JSONValue] = [:]) {
        self.name = name.qualifiedName
        self.parameters = parameters
    }

    var message: String { parameters["message"]?.string ?? name }

    func encoded() -> [UInt8] {
        // A dictionary of JSON values always encodes.
        (try? VarlinkCodec.encode(OutgoingReply(parameters: JSONValue.object(parameters), error: name))) ?? []
    }

    static func from(_ error: FleetError) -> ErrorReply {
        let message = error.description
        switch error {
        case .promotionRefused(let revision, let tier, let reason):
            return ErrorReply(.promotionRefused, ["revision": .string(revision), "tier": .string(tier), "reason": .string(reason)], message: message)
        case .planChanged(let revision, let tier, let approved, let current):
            return ErrorReply(
                .planChanged, ["revision": .string(revision), "tier": .string(tier), "approved": .string(approved), "current": .string(current)],
                message: message)
        case .unknownDatabase(let name, let suggestion):
            return ErrorReply(.unknownDatabase, ["name": .string(name), "suggestion": suggestion.map(JSONValue.string) ?? .null], message: message)
        case .unknownRevision(let revision, let reason):
            return ErrorReply(.unknownRevision, ["revision": .string(revision), "reason": .string(reason)], message: message)
        case .unknownTier(let tier, let known):
            return ErrorReply(.unknownTier, ["tier": .string(tier), "tiers": .array(known.map(JSONValue.string))], message: message)
        case .invalidParameter(let parameter, let reason):
            return ErrorReply(.invalidParameter, ["parameter": .string(parameter), "reason": .string(reason)], message: message)
        case .manifestInvalid(let diagnostics):
            return ErrorReply(.manifestInvalid, ["errors": .array(diagnostics.errors.map { .string($0.description) })], message: message)
        case .busy(let database, let reason):
            return ErrorReply(.busy, ["db": .string(database), "reason": .string(reason)], message: message)
        case .phaseFailed(let database, let failure):
            return ErrorReply(.phaseFailed, ["db": .string(database), "reason": .string(failure.description)], message: message)
        case .stateStore(let reason):
            return ErrorReply(.stateStoreFailed, ["reason": .string(reason)], message: message)
        }
    }

    static func notAllowed(_ method: FleetMethod, peer: PeerIdentity, group: String) -> ErrorReply {
        let who = peer.user.map { "\($0) (uid \(peer.uid))" } ?? "uid \(peer.uid)"
        return ErrorReply(
            .notAllowed, ["method": .string(method.rawValue), "uid": .number(Double(peer.uid)), "group": .string(group)],
            message: "\(method.rawValue.lowercased()) changes the fleet: \(who) is neither root nor in group \(group)")
    }

    /// A changing call on a follower: names the leader, whose socket takes it.
    static func notLeader(_ method: FleetMethod, leader: LeaderElection.Holder?) -> ErrorReply {
        let command = method.rawValue.lowercased()
        let message =
            if let leader {
                "this droverd follows; \(command) must go to the leader, droverd on \(leader.host) (pid \(leader.pid), leading since \(Fleet.isoTime(leader.since)))"
            } else {
                "this droverd follows and no droverd holds the lease right now (the state database may be unreachable); try \(command) again in a few seconds"
            }
        return ErrorReply(
            .notLeader,
            [
                "method": .string(method.rawValue),
                "leader": leader.map { .string($0.instance) } ?? .null,
                "host": leader.map { .string($0.host) } ?? .null,
                "pid": leader.map { .number(Double($0.pid)) } ?? .null,
            ], message: message)
    }

    static func protocolError(_ reason: String) -> ErrorReply {
        ErrorReply(.protocolError, ["reason": .string(reason)], message: reason)
    }

    static func tooManyConnections(scope: String, limit: Int) -> ErrorReply {
        let whose = scope == "user" ? "connections of your user" : "connections"
        return ErrorReply(
            .tooManyConnections, ["scope": .string(scope), "limit": .number(Double(limit))],
            message: "droverd already has \(limit) open \(whose); close some and try again")
    }
}
