import Foundation

/// The `[tool.alembic]` table of a `pyproject.toml` (`alembic init --template
/// pyproject`, Alembic 1.16+): the keys drover needs, as TOML writes them — strings,
/// arrays of strings (over several lines), booleans — with `%(here)s` the file's
/// absolute folder, as Alembic substitutes it.
struct AlembicPyproject {
    struct Entry {
        var values: [String]
        var line: Int
    }

    let file: String
    private(set) var entries: [String: Entry] = [:]

    subscript(key: String) -> Entry? { entries[key] }

    /// Whether the file has a `[tool.alembic]` table.
    static func declaresAlembic(_ file: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: file) else { return false }
        return String(decoding: data, as: UTF8.self).lines.contains { $0.trimmingWhitespace() == "[tool.alembic]" }
    }

    static func parse(_ text: String, file: String) throws(Diagnostic) -> AlembicPyproject {
        var table = AlembicPyproject(file: file)
        let here = AlembicProject.absolute((file as NSString).deletingLastPathComponent)
        var inTable = false
        var open: (key: String, line: Int, text: String)?  // an array over several lines
        for (index, raw) in text.lines.enumerated() {
            let number = index + 1
            let line = raw.trimmingWhitespace()
            if var pending = open {
                pending.text += " " + line
                open = pending
                if Self.closesArray(pending.text) {
                    table.entries[pending.key] = Entry(values: try values(pending.text, file: file, line: pending.line, here: here), line: pending.line)
                    open = nil
                }
                continue
            }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                inTable = line == "[tool.alembic]"
                continue
            }
            guard inTable, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingWhitespace()
            let value = line[line.index(after: equals)...].trimmingWhitespace()
            if value.hasPrefix("[") && !Self.closesArray(value) {
                open = (key, number, value)
                continue
            }
            table.entries[key] = Entry(values: try values(value, file: file, line: number, here: here), line: number)
        }
        return table
    }

    private static func closesArray(_ text: String) -> Bool {
        text.split(separator: "#", maxSplits: 1).first.map { $0.trimmingWhitespace().hasSuffix("]") } ?? false
    }

    /// `"text"`, `'text'`, `["a", "b"]`, `true`: the strings in it.
    private static func values(_ text: String, file: String, line: Int, here: String) throws(Diagnostic) -> [String] {
        var found: [String] = []
        var rest = Substring(text)
        if !rest.hasPrefix("[") && !rest.hasPrefix("\"") && !rest.hasPrefix("'") {
            let bare = rest.prefix { $0 != "#" }.trimmingWhitespace()
            return [bare]
        }
        while let quote = rest.firstIndex(where: { $0 == "\"" || $0 == "'" }) {
            let mark = rest[quote]
            let body = rest[rest.index(after: quote)...]
            guard let end = body.firstIndex(of: mark) else {
                throw Diagnostic(at: SourceLocation(file: file, line: line), "an unterminated string in [tool.alembic]")
            }
            found.append(String(body[..<end]).replacingOccurrences(of: "%(here)s", with: here))
            rest = body[body.index(after: end)...]
        }
        return found
    }
}
