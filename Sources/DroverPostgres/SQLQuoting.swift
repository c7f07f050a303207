/// Quoting for the few places drover builds SQL around names (schemas, search_path).
/// Values always travel as `$n` parameters instead.
public enum SQLQuoting {
    /// `"name"` with embedded quotes doubled.
    public static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `'text'` with embedded quotes doubled, for statements that take no parameters
    /// (SET). Refuses NUL, which PostgreSQL cannot store anyway.
    public static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\0", with: "").replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// A `text[]` literal (`{"a","b"}`), to pass as a parameter.
    public static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }.joined(separator: ",") + "}"
    }
}

import Foundation
