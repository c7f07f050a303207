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

/// Splits SQL text into statements exactly where psql would send them (`SQLLexer`):
/// semicolons inside quotes, `$tag$` bodies, comments, parentheses and `BEGIN ATOMIC`
/// bodies do not end a statement.
public enum SQLSplitter {
    /// A section's statements, and the psql meta-commands (`\i`, `\set`, …) in it,
    /// which drover does not run.
    public struct Result: Sendable {
        public var statements: [SQLStatement]
        /// Line and text (up to the end of its line) of every meta-command.
        public var metaCommands: [(line: Int, text: String)]
    }

    public static func split(_ sql: String, firstLine: Int = 1) -> [SQLStatement] {
        scan(sql, firstLine: firstLine).statements
    }

    public static func scan(_ sql: String, firstLine: Int = 1) -> Result {
        let bytes = Array(sql.utf8)
        var lexer = SQLLexer(bytes: bytes)
        lexer.scan()
        var statements: [SQLStatement] = []
        var start = 0
        for end in lexer.terminators + [bytes.count] {
            if let statement = makeStatement(bytes, lexer.code, start..<end, firstLine: firstLine) {
                statements.append(statement)
            }
            start = end + 1
        }
        let metaCommands = lexer.metaCommands.map { offset in
            let line = firstLine + bytes[0..<offset].count { $0 == UInt8(ascii: "\n") }
            let end = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            return (line, String(decoding: bytes[offset..<end], as: UTF8.self).trimmingWhitespace())
        }
        return Result(statements: statements, metaCommands: metaCommands)
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
                index + token.count == code.count || !isIdentifierByte(code[index + token.count])
            {
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

extension SQLStatement {
    /// The table an `UPDATE`, `DELETE FROM` or `INSERT INTO` writes, as written
    /// (quotes and schema kept, for `to_regclass`): what a backfill's throttle
    /// watches. `nil` for anything else (a `WITH` query, a function call).
    public var writtenTable: String? {
        let name = #"("[^"]+"|[^\s(),;".]+)(\.("[^"]+"|[^\s(),;".]+))*"#
        let pattern = #"^\s*(?:UPDATE\s+(?:ONLY\s+)?|DELETE\s+FROM\s+(?:ONLY\s+)?|INSERT\s+INTO\s+)("# + name + ")"
        // From where `code` (comments blanked) starts, matched on `text` (quoted
        // names are blanked in `code`); both have their characters at the same places.
        guard let regex = try? Regex(pattern).ignoresCase(), text.count == code.count else { return nil }
        let start = code.distance(from: code.startIndex, to: code.firstIndex { !$0.isWhitespace } ?? code.endIndex)
        let rest = text[text.index(text.startIndex, offsetBy: start)...]
        guard let match = rest.firstMatch(of: regex), let range = match.output[1].range else { return nil }
        return String(rest[range])
    }
}
