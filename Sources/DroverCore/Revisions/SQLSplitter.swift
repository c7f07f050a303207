/// One SQL statement of a section, as the user wrote it.
public struct SQLStatement: Sendable, Hashable {
    /// The statement without its terminating semicolon, trimmed.
    public var text: String
    /// Line of its first token in the file.
    public var line: Int
    /// `text` with comments and the contents of string literals blanked out (same
    /// length, same line breaks), so that rules can match keywords without being
    /// fooled by a `'DROP COLUMN'` inside a string.
    public var code: String

    public init(text: String, line: Int, code: String) {
        self.text = text
        self.line = line
        self.code = code
    }

    /// The first line of the statement, shortened, for messages.
    public var summary: String {
        let firstLine = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
        return firstLine.count > 72 ? String(firstLine.prefix(69)) + "..." : firstLine
    }

    /// Line in the file of a byte offset into `code`/`text`.
    public func line(atOffset offset: Int) -> Int {
        line + code.utf8.prefix(offset).count { $0 == UInt8(ascii: "\n") }
    }
}

/// Splits SQL text into statements the way PostgreSQL reads it: semicolons inside
/// quotes, `$tag$` bodies and comments do not end a statement.
public enum SQLSplitter {
    public static func split(_ sql: String, firstLine: Int = 1) -> [SQLStatement] {
        let bytes = Array(sql.utf8)
        var scanner = Scanner(bytes: bytes)
        scanner.scan()
        var statements: [SQLStatement] = []
        var start = 0
        for end in scanner.terminators + [bytes.count] {
            if let statement = makeStatement(bytes, scanner.code, start..<end, firstLine: firstLine) {
                statements.append(statement)
            }
            start = end + 1
        }
        return statements
    }

    private static func makeStatement(_ bytes: [UInt8], _ code: [UInt8], _ range: Range<Int>, firstLine: Int) -> SQLStatement? {
        guard !range.isEmpty else { return nil }
        // The statement starts at its first byte of code (not whitespace, not comment).
        guard let first = range.first(where: { code[$0] != UInt8(ascii: " ") && !isSpace(code[$0]) }) else { return nil }
        var last = range.upperBound - 1
        while last > first && isSpace(bytes[last]) { last -= 1 }
        let lineBefore = bytes[0..<first].count { $0 == UInt8(ascii: "\n") }
        return SQLStatement(
            text: String(decoding: bytes[first...last], as: UTF8.self),
            line: firstLine + lineBefore,
            code: String(decoding: code[first...last], as: UTF8.self)
        )
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C
    }

    /// Replaces `:name` placeholders (outside literals and comments, not `::casts`).
    public static func substitute(_ name: String, with value: String, in statement: SQLStatement) -> String {
        let text = Array(statement.text.utf8)
        let code = Array(statement.code.utf8)
        let token = Array((":" + name).utf8)
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if code[index] == UInt8(ascii: ":"),
               index + token.count <= code.count,
               Array(code[index..<index + token.count]) == token,
               index == 0 || code[index - 1] != UInt8(ascii: ":"),
               index + token.count == code.count || !isIdentifierByte(code[index + token.count]) {
                output.append(contentsOf: value.utf8)
                index += token.count
            } else {
                output.append(text[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte >= 0x80
    }
}

/// A single pass over the bytes that records statement terminators and builds the
/// blanked `code` copy.
private struct Scanner {
    let bytes: [UInt8]
    var code: [UInt8]
    var terminators: [Int] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
        self.code = bytes
    }

    mutating func scan() {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "-") where peek(index + 1) == UInt8(ascii: "-"):
                index = skipLineComment(from: index)
            case UInt8(ascii: "/") where peek(index + 1) == UInt8(ascii: "*"):
                index = skipBlockComment(from: index)
            case UInt8(ascii: "'"):
                let escapes = index > 0 && (bytes[index - 1] == UInt8(ascii: "E") || bytes[index - 1] == UInt8(ascii: "e"))
                    && (index < 2 || !SQLSplitter.isIdentifierByte(bytes[index - 2]))
                index = skipQuoted(from: index, quote: UInt8(ascii: "'"), backslashEscapes: escapes, blank: true)
            case UInt8(ascii: "\""):
                index = skipQuoted(from: index, quote: UInt8(ascii: "\""), backslashEscapes: false, blank: false)
            case UInt8(ascii: "$"):
                index = skipDollarQuoted(from: index)
            case UInt8(ascii: ";"):
                terminators.append(index)
                index += 1
            default:
                index += 1
            }
        }
    }

    func peek(_ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func blank(_ range: Range<Int>) {
        for i in range where bytes[i] != UInt8(ascii: "\n") { code[i] = UInt8(ascii: " ") }
    }

    mutating func skipLineComment(from start: Int) -> Int {
        var index = start
        while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
        blank(start..<index)
        return index
    }

    /// Block comments nest in PostgreSQL.
    mutating func skipBlockComment(from start: Int) -> Int {
        var depth = 0
        var index = start
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "/") && peek(index + 1) == UInt8(ascii: "*") {
                depth += 1
                index += 2
            } else if bytes[index] == UInt8(ascii: "*") && peek(index + 1) == UInt8(ascii: "/") {
                depth -= 1
                index += 2
                if depth == 0 { break }
            } else {
                index += 1
            }
        }
        blank(start..<min(index, bytes.count))
        return index
    }

    mutating func skipQuoted(from start: Int, quote: UInt8, backslashEscapes: Bool, blank shouldBlank: Bool) -> Int {
        var index = start + 1
        while index < bytes.count {
            if backslashEscapes && bytes[index] == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if bytes[index] == quote {
                if peek(index + 1) == quote {  // doubled quote inside the literal
                    index += 2
                    continue
                }
                break
            }
            index += 1
        }
        let end = min(index, bytes.count)
        if shouldBlank && end > start + 1 { blank(start + 1..<end) }
        return end + 1
    }

    /// `$tag$ ... $tag$`; a lone `$1` parameter is not a quote.
    mutating func skipDollarQuoted(from start: Int) -> Int {
        var index = start + 1
        while index < bytes.count, SQLSplitter.isIdentifierByte(bytes[index]), !(bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9") && index == start + 1) {
            index += 1
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "$") else { return start + 1 }
        let tag = Array(bytes[start...index])
        let bodyStart = index + 1
        var search = bodyStart
        while search + tag.count <= bytes.count {
            if bytes[search] == UInt8(ascii: "$") && Array(bytes[search..<search + tag.count]) == tag {
                blank(bodyStart..<search)
                return search + tag.count
            }
            search += 1
        }
        blank(bodyStart..<bytes.count)
        return bytes.count
    }
}
