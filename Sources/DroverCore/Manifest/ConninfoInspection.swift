import Foundation

/// Pure checks on a libpq conninfo string, for manifest validation (the core has
/// no libpq; the Postgres layer parses conninfo for real when connecting).
public enum ConninfoInspection {
    /// Whether the conninfo carries a password: `password=` in key=value form, or
    /// `user:secret@` / `?password=` in a URI. Passwords belong in `password_file`.
    public static func containsPassword(_ conninfo: String) -> Bool {
        let trimmed = conninfo.trimmingWhitespace()
        if trimmed.hasPrefix("postgresql://") || trimmed.hasPrefix("postgres://") {
            let afterScheme = trimmed.drop { $0 != "/" }.dropFirst(2)
            let authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") { return true }
            if let query = trimmed.split(separator: "?", maxSplits: 1).dropFirst().first {
                return query.split(separator: "&").contains { $0.lowercased().hasPrefix("password=") }
            }
            return false
        }
        // Checked for every database of a manifest: Foundation's search only where the word is.
        guard contains(Self.passwordWord, in: trimmed) else { return false }
        var index = trimmed.startIndex
        while let range = trimmed[index...].range(of: "password") {
            let before = range.lowerBound == trimmed.startIndex ? " " : trimmed[trimmed.index(before: range.lowerBound)]
            let after = trimmed[range.upperBound...].drop { $0 == " " }
            if before.isWhitespace && after.hasPrefix("=") { return true }
            index = range.upperBound
        }
        return false
    }

    private static let passwordWord = Array("password".utf8)

    /// Whether `text` has `word` anywhere, byte by byte (the standard library's
    /// generic search cost more than reading the whole manifest).
    static func contains(_ word: [UInt8], in text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= word.count else { return false }
        return (0...(bytes.count - word.count)).contains { start in word.indices.allSatisfy { bytes[start + $0] == word[$0] } }
    }

    /// `host:port` for `max_per_server`, read from the conninfo's host/port (or the
    /// URI authority). `nil` when it cannot be told without libpq (e.g. `service=`).
    public static func server(of conninfo: String) -> String? {
        let trimmed = conninfo.trimmingWhitespace()
        if trimmed.hasPrefix("postgresql://") || trimmed.hasPrefix("postgres://") {
            let afterScheme = trimmed.drop { $0 != "/" }.dropFirst(2)
            var authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
            let host = authority.isEmpty ? "localhost" : String(authority)
            return host.contains(":") ? host : host + ":5432"
        }
        var host: String?
        var port = "5432"
        for pair in trimmed.split(whereSeparator: \.isWhitespace) {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            if parts[0] == "host" || parts[0] == "hostaddr" { host = parts[1] }
            if parts[0] == "port" { port = parts[1] }
            if parts[0] == "service" { return nil }
        }
        return "\(host ?? "localhost"):\(port)"
    }
}
