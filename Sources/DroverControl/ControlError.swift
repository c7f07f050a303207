/// Why the control socket could not be set up. droverd does not start without it:
/// an operator must be able to reach a daemon that moves production.
public enum ControlError: Error, Sendable, CustomStringConvertible {
    /// Another droverd answers on the socket.
    case inUse(path: String)
    case socketFile(path: String, reason: String)
    case activation(String)
    case noPeerCredentials

    public var description: String {
        switch self {
        case .inUse(let path): "another droverd is listening on \(path); stop it or give this one another fleet.socket"
        case .socketFile(let path, let reason): "\(path): \(reason)"
        case .activation(let reason): "socket activation: \(reason)"
        case .noPeerCredentials: "the connection has no peer credentials (not a Unix socket)"
        }
    }
}
