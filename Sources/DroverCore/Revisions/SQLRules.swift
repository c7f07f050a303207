/// What the runner needs to know about a statement, read from its blanked `code`
/// (comments and literal contents removed), and the text helpers the lint rules
/// share. They recognise the common spellings; they are not a SQL parser.
public enum SQLRules {
    /// The index a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name` builds
    /// (schema-qualified when written so); `nil` for other statements.
    public static func concurrentlyCreatedIndex(_ statement: SQLStatement) -> (schema: String?, name: String)? {
        let code = asciiUppercased(statement.code)
        guard
            let match = code.firstMatch(
                of:
                    #/^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?((?:"[^"]+"|[A-Z0-9_$]+)(?:\.(?:"[^"]+"|[A-Z0-9_$]+))?)\s+ON\b/#
            )
        else {
            return nil
        }
        // Take the name from the original text (case of quoted names matters).
        let lower = code.utf8.distance(from: code.startIndex, to: match.output.1.startIndex)
        let upper = code.utf8.distance(from: code.startIndex, to: match.output.1.endIndex)
        let original = String(decoding: Array(statement.text.utf8)[lower..<upper], as: UTF8.self)
        let parts = splitQualifiedName(original)
        return parts.count == 2 ? (parts[0], parts[1]) : (nil, parts[0])
    }

    // MARK: Helpers

    /// Upper-cases ASCII letters only, keeping every byte offset.
    static func asciiUppercased(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    /// Upper-cased with runs of blanks folded into one space (offsets not kept).
    static func normalised(_ code: String) -> String {
        let upper = asciiUppercased(code)
        var result = ""
        var lastWasSpace = true
        for character in upper {
            if character.isWhitespace {
                if !lastWasSpace { result.append(" ") }
                lastWasSpace = true
            } else {
                result.append(character)
                lastWasSpace = false
            }
        }
        return result
    }

    /// The comma-separated actions of `ALTER TABLE name action, action`, each with
    /// its byte offset in the statement (commas inside parentheses do not split).
    static func alterTableActions(_ code: String) -> [(text: String, offset: Int)] {
        let bytes = Array(code.utf8)
        guard let header = code.firstMatch(of: #/^\s*ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?(ONLY\s+)?("[^"]+"|[^\s"]+)(\."[^"]+"|\.[^\s"]+)?\s*\*?\s*/#) else {
            return []
        }
        var start = code.utf8.distance(from: code.startIndex, to: header.range.upperBound)
        var actions: [(String, Int)] = []
        var depth = 0
        var inQuotes = false
        func emit(_ end: Int) {
            var first = start
            while first < end && SQLSplitter.isSpace(bytes[first]) { first += 1 }
            if first < end {
                actions.append((normalised(String(decoding: bytes[first..<end], as: UTF8.self)), first))
            }
        }
        for index in start..<bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""): inQuotes.toggle()
            case UInt8(ascii: "(") where !inQuotes: depth += 1
            case UInt8(ascii: ")") where !inQuotes: depth -= 1
            case UInt8(ascii: ",") where !inQuotes && depth == 0:
                emit(index)
                start = index + 1
            default: break
            }
        }
        emit(bytes.count)
        return actions
    }

    /// `"My Schema".idx` → ["My Schema", "idx"]; unquoted parts fold to lower case.
    static func splitQualifiedName(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var wasQuoted = false
        for character in text {
            if character == "\"" {
                quoted.toggle()
                wasQuoted = true
            } else if character == "." && !quoted {
                parts.append(wasQuoted ? current : current.lowercased())
                current = ""
                wasQuoted = false
            } else {
                current.append(character)
            }
        }
        parts.append(wasQuoted ? current : current.lowercased())
        return parts
    }
}
