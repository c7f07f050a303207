import Foundation

/// The `[alembic]` section of an `alembic.ini`, read the way Python's configparser
/// reads it for the keys drover needs: `key = value` or `key: value`, indented
/// continuation lines, `#`/`;` comments, and the `%(here)s` interpolation Alembic
/// defines (the ini file's folder).
struct AlembicIni {
    struct Entry {
        var value: String
        var line: Int
    }

    let file: String
    private(set) var entries: [String: Entry] = [:]

    static func parse(_ text: String, file: String) throws(Diagnostic) -> AlembicIni {
        var ini = AlembicIni(file: file)
        // Alembic's %(here)s is the absolute folder of the file.
        let here = AlembicProject.absolute((file as NSString).deletingLastPathComponent)
        var section: String?
        var lastKey: String?
        for (index, raw) in text.lines.enumerated() {
            let number = index + 1
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") {
                section = String(trimmed.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                lastKey = nil
                continue
            }
            guard section == "alembic" else { continue }
            if line.first?.isWhitespace == true, let key = lastKey {
                ini.entries[key]!.value += "\n" + trimmed
                continue
            }
            guard let separator = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw Diagnostic(at: SourceLocation(file: file, line: number), "expected 'key = value' in [alembic]")
            }
            let key = trimmed[..<separator].trimmingCharacters(in: .whitespaces).lowercased()
            let value = trimmed[trimmed.index(after: separator)...].trimmingCharacters(in: .whitespaces)
            ini.entries[key] = Entry(value: value, line: number)
            lastKey = key
        }
        for (key, entry) in ini.entries {
            ini.entries[key]!.value = try interpolate(entry, here: here, file: file)
        }
        return ini
    }

    subscript(key: String) -> Entry? { entries[key] }

    private static func interpolate(_ entry: Entry, here: String, file: String) throws(Diagnostic) -> String {
        var value = entry.value.replacingOccurrences(of: "%(here)s", with: here)
        value = value.replacingOccurrences(of: "%%", with: "\u{0}")
        if let start = value.range(of: "%(") {
            let name = value[start.upperBound...].prefix { $0 != ")" }
            throw Diagnostic(at: SourceLocation(file: file, line: entry.line), "drover reads only the %(here)s interpolation, not %(\(name))s")
        }
        return value.replacingOccurrences(of: "\u{0}", with: "%")
    }
}
