/// Quoting for the few places drover builds SQL around names (schemas, search_path).
/// Values always travel as `$n` parameters instead. Scalar by scalar, without
/// Foundation: these run for every tenant of every phase, and a `"` followed by a
/// combining mark is still a quote to PostgreSQL.
public enum SQLQuoting {
    /// `"name"` with embedded quotes doubled.
    public static func identifier(_ name: String) -> String {
        "\"" + escaping(name) { $0 == "\"" ? "\"\"" : nil } + "\""
    }

    /// `'text'` with embedded quotes doubled, for statements that take no parameters
    /// (SET). Drops NUL, which PostgreSQL cannot store anyway.
    public static func literal(_ text: String) -> String {
        "'" + escaping(text) { $0 == "'" ? "''" : $0 == "\0" ? "" : nil } + "'"
    }

    /// A `text[]` literal (`{"a","b"}`), to pass as a parameter.
    public static func arrayLiteral(_ values: [String]) -> String {
        "{" + values.map { "\"" + escaping($0) { $0 == "\\" ? "\\\\" : $0 == "\"" ? "\\\"" : nil } + "\"" }.joined(separator: ",") + "}"
    }

    /// `text` with each scalar for which `replacement` has an answer replaced by it.
    private static func escaping(_ text: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
        guard text.unicodeScalars.contains(where: { replacement($0) != nil }) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if let replaced = replacement(scalar) { out.append(contentsOf: replaced.unicodeScalars) } else { out.append(scalar) }
        }
        return String(out)
    }
}
