/// Module-level `name = literal` (or `name: Annotation = literal`) assignments of
/// a Python file, for the few literals Alembic revision files use: strings, `None`,
/// and tuples or lists of strings, possibly over several lines. Anything else is
/// kept as text (`.other`), so a caller can say what it found.
struct PythonAssignment: Sendable, Hashable {
    enum Value: Sendable, Hashable {
        case none
        case string(String)
        case strings([String])
        case other(String)
    }

    var value: Value
    var line: Int

    static func moduleLevel(in text: String, file: String) throws(Diagnostic) -> [String: PythonAssignment] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var result: [String: PythonAssignment] = [:]
        var index = 0
        var inDocstring: String?  // the quote that closes it
        while index < lines.count {
            let line = lines[index]
            defer { index += 1 }
            if let quote = inDocstring {
                if line.contains(quote) { inDocstring = nil }
                continue
            }
            // Triple-quoted strings at module level (the docstring) are skipped whole.
            if let quote = ["\"\"\"", "'''"].first(where: { line.hasPrefix($0) }) {
                if line.dropFirst(3).contains(quote) == false { inDocstring = quote }
                continue
            }
            guard let first = line.first, first.isLetter || first == "_" else { continue }
            guard let equals = assignmentEquals(in: line) else { continue }
            let target = line[..<equals].split(separator: ":", maxSplits: 1)[0].trimmingCharacters(in: .whitespaces)
            guard target.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            var expression = stripComment(String(line[line.index(after: equals)...])).trimmingCharacters(in: .whitespaces)
            let startLine = index + 1
            // A bracket left open continues on the next lines.
            while depth(of: expression) > 0 && index + 1 < lines.count {
                index += 1
                expression += " " + stripComment(lines[index]).trimmingCharacters(in: .whitespaces)
            }
            guard depth(of: expression) == 0 else {
                throw Diagnostic(at: SourceLocation(file: file, line: startLine), "\(target): a bracket is never closed")
            }
            result[target] = PythonAssignment(value: literal(expression), line: startLine)
        }
        return result
    }

    /// The first line of the module docstring.
    static func docstringFirstLine(_ text: String) -> String? {
        let trimmed = text.drop { $0.isWhitespace }
        guard let quote = ["\"\"\"", "'''"].first(where: { trimmed.hasPrefix($0) }) else { return nil }
        let body = trimmed.dropFirst(quote.count)
        let first = body.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let line = first.components(separatedBy: quote)[0].trimmingCharacters(in: .whitespaces)
        return line.isEmpty ? nil : line
    }

    /// The `=` of an assignment (not `==`, not inside an annotation's brackets).
    private static func assignmentEquals(in line: String) -> String.Index? {
        var depth = 0
        var index = line.startIndex
        while index < line.endIndex {
            let character = line[index]
            switch character {
            case "[", "(": depth += 1
            case "]", ")": depth -= 1
            case "=" where depth == 0:
                let next = line.index(after: index)
                let previous = index > line.startIndex ? line[line.index(before: index)] : " "
                if (next < line.endIndex && line[next] == "=") || "!<>=".contains(previous) { return nil }
                return index
            case "\"", "'", "#": return nil
            default: break
            }
            index = line.index(after: index)
        }
        return nil
    }

    private static func literal(_ expression: String) -> Value {
        if expression == "None" { return .none }
        if let string = stringLiteral(expression) { return .string(string) }
        if let open = expression.first, let close = expression.last, (open == "(" && close == ")") || (open == "[" && close == "]") {
            let inner = expression.dropFirst().dropLast()
            let items = inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let strings = items.compactMap(stringLiteral)
            if strings.count == items.count { return .strings(strings) }
        }
        return .other(expression)
    }

    private static func stringLiteral(_ text: String) -> String? {
        guard text.count >= 2, let quote = text.first, quote == "\"" || quote == "'", text.last == quote else { return nil }
        let inner = text.dropFirst().dropLast()
        guard !inner.contains(quote) else { return nil }
        return String(inner)
    }

    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        for (offset, character) in line.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" {
                return String(line.prefix(offset))
            }
        }
        return line
    }

    private static func depth(of expression: String) -> Int {
        var depth = 0
        var quote: Character?
        for character in expression {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "(" || character == "[" {
                depth += 1
            } else if character == ")" || character == "]" {
                depth -= 1
            }
        }
        return depth
    }
}
