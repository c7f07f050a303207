/// Where `fleet.state` keeps the daemon's state: a SQLite file that one droverd owns,
/// or a PostgreSQL database (a URI or a libpq `key=value` conninfo such as
/// `service=drover_state`) that several droverd share, one of them leading.
public enum StateLocation: Sendable, Hashable {
    case file(String)
    case postgresql(conninfo: String)

    public init(_ text: String) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgresql://") || lowered.hasPrefix("postgres://") {
            self = .postgresql(conninfo: text)
        } else if let first = text.split(separator: " ").first, let equals = first.firstIndex(of: "="),
            first[..<equals].allSatisfy({ $0.isLetter || $0 == "_" }), !first[..<equals].isEmpty
        {
            // `host=... dbname=...` or `service=...`: a file path rarely starts with `word=`.
            self = .postgresql(conninfo: text)
        } else {
            self = .file(text)
        }
    }

    /// Whether several droverd may run on it (and elect a leader).
    public var isShared: Bool {
        if case .postgresql = self { true } else { false }
    }
}
