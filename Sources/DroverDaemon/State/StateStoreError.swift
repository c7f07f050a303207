/// Problems with the daemon's state store. Each says what to do about it.
public enum StateStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Another droverd holds the state file (docs/states.md: one daemon per state file).
    case inUse(path: String, pid: Int32?)
    case cannotOpen(path: String, reason: String)
    /// The PostgreSQL state database cannot be reached (`location` has no password).
    case unreachable(location: String, reason: String)
    case statementFailed(String)

    public var description: String {
        switch self {
        case .inUse(let path, let pid):
            "another droverd\(pid.map { " (pid \($0))" } ?? "") is running on state file \(path); stop it or give this one its own fleet.state"
        case .cannotOpen(let path, let reason):
            "cannot open state file \(path): \(reason) (is its directory writable and the disk not full?)"
        case .unreachable(let location, let reason):
            "cannot reach the state database \(location): \(reason)"
        case .statementFailed(let message):
            "state store: \(message)"
        }
    }
}
