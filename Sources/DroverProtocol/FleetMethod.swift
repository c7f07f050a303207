/// The methods of `io.drover.Fleet`: one per droverctl command (docs/varlink.md).
public enum FleetMethod: String, Sendable, CaseIterable {
    case status = "Status", plan = "Plan", history = "History", drift = "Drift", windows = "Windows", watch = "Watch"
    case promote = "Promote", release = "Release", deploy = "Deploy", pause = "Pause", resume = "Resume"
    case retry = "Retry", revert = "Revert", stamp = "Stamp", adopt = "Adopt", reload = "Reload", cancel = "Cancel"

    public static let interface = "io.drover.Fleet"

    /// `io.drover.Fleet.Promote`.
    public var qualifiedName: String { "\(Self.interface).\(rawValue)" }

    /// Changing methods need root or the operators group; reading ones anyone who
    /// can open the socket.
    public var changesFleet: Bool {
        switch self {
        case .status, .plan, .history, .drift, .windows, .watch: false
        case .promote, .release, .deploy, .pause, .resume, .retry, .revert, .stamp, .adopt, .reload, .cancel: true
        }
    }

    /// Changes state that instances sharing a state store share, so only the leader
    /// may answer it (`reload` re-reads this instance's own files).
    public var needsLeader: Bool { changesFleet && self != .reload }

    /// Streams replies (`more`).
    public var streams: Bool { self == .watch }
}

/// The errors of `io.drover.Fleet`: one per refusal reason.
public enum FleetErrorName: String, Sendable, CaseIterable {
    case notAllowed = "NotAllowed"
    case promotionRefused = "PromotionRefused"
    case planChanged = "PlanChanged"
    case unknownDatabase = "UnknownDatabase"
    case unknownRevision = "UnknownRevision"
    case unknownTier = "UnknownTier"
    case invalidParameter = "InvalidParameter"
    case manifestInvalid = "ManifestInvalid"
    case busy = "Busy"
    case phaseFailed = "PhaseFailed"
    case stateStoreFailed = "StateStoreFailed"
    case notLeader = "NotLeader"
    case protocolError = "ProtocolError"
    case tooManyConnections = "TooManyConnections"

    public var qualifiedName: String { "\(FleetMethod.interface).\(rawValue)" }
}

/// The errors of the standard `org.varlink.service` interface that droverd sends.
public enum ServiceErrorName: String, Sendable, CaseIterable {
    case interfaceNotFound = "InterfaceNotFound"
    case methodNotFound = "MethodNotFound"
    case methodNotImplemented = "MethodNotImplemented"
    case invalidParameter = "InvalidParameter"
    case permissionDenied = "PermissionDenied"
    case expectedMore = "ExpectedMore"

    public static let interface = "org.varlink.service"
    public var qualifiedName: String { "\(Self.interface).\(rawValue)" }
}
