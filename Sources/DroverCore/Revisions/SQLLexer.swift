/// A single pass over the bytes of a section that follows psql's own lexer
/// (`psqlscan.l`): it records the `;` that end statements, psql meta-commands, and
/// builds the blanked `code` copy. What psql tracks, this tracks: quotes of every
/// kind, nested block comments, parentheses, and `BEGIN … END` inside
/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (SQL-standard bodies).
struct SQLLexer {
    let bytes: [UInt8]
    var code: [UInt8]
    var terminators: [Int] = []
    /// Offsets of a backslash outside quotes and comments: a psql meta-command.
    var metaCommands: [Int] = []

    private var parenDepth = 0
    private var beginDepth = 0
    /// psql's heuristic for SQL-standard function bodies: the first words of the
    /// statement, each kept only when it is one of CREATE, OR, REPLACE, FUNCTION,
    /// PROCEDURE (its first letter; 0 otherwise).
    private var leadingWords: [UInt8] = []

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
                index = skipQuoted(from: index, quote: byte, backslashEscapes: false, blank: true)
            case UInt8(ascii: "\""):
                index = skipQuoted(from: index, quote: byte, backslashEscapes: false, blank: false)
            case UInt8(ascii: "$"):
                index = skipDollar(from: index)
            case UInt8(ascii: "("):
                parenDepth += 1
                index += 1
            case UInt8(ascii: ")"):
                if parenDepth > 0 { parenDepth -= 1 }
                index += 1
            case UInt8(ascii: ";"):
                if parenDepth == 0 && beginDepth == 0 {
                    terminators.append(index)
                    leadingWords = []
                }
                index += 1
            case UInt8(ascii: "\\"):
                // Reported as an error; blanked so the statement after it reads right.
                metaCommands.append(index)
                let end = skipToEndOfLine(from: index)
                blank(index..<end)
                index = end
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // A number, with any trailing junk psql reads as part of it; never a `$`.
                index += 1
                while index < bytes.count, SQLSplitter.isIdentifierByte(bytes[index]) || bytes[index] == UInt8(ascii: ".") { index += 1 }
            default:
                if Self.isIdentifierStart(byte) {
                    index = scanWord(from: index)
                } else {
                    index += 1
                }
            }
        }
    }

    // MARK: Words

    /// An identifier or keyword (`$` may continue one: `a$b` is one word), or the
    /// prefix of a string: `E'…'`, `U&'…'`, `U&"…"`, `B'…'`, `X'…'`, `N'…'`.
    private mutating func scanWord(from start: Int) -> Int {
        let first = bytes[start] | 0x20
        let next = peek(start + 1)
        if next == UInt8(ascii: "'") {
            switch first {
            case UInt8(ascii: "e"): return skipQuoted(from: start + 1, quote: next!, backslashEscapes: true, blank: true)
            case UInt8(ascii: "b"), UInt8(ascii: "x"), UInt8(ascii: "n"): return skipQuoted(from: start + 1, quote: next!, backslashEscapes: false, blank: true)
            default: break
            }
        }
        if first == UInt8(ascii: "u"), next == UInt8(ascii: "&"), let quote = peek(start + 2),
            quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"")
        {
            return skipQuoted(from: start + 2, quote: quote, backslashEscapes: false, blank: quote == UInt8(ascii: "'"))
        }
        var end = start + 1
        while end < bytes.count, SQLSplitter.isIdentifierByte(bytes[end]) || bytes[end] == UInt8(ascii: "$") { end += 1 }
        track(word: bytes[start..<end])
        return end
    }

    private mutating func track(word: ArraySlice<UInt8>) {
        let lower = String(decoding: word.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        if leadingWords.count < 4 {
            leadingWords.append(["create", "function", "procedure", "or", "replace"].contains(lower) ? lower.utf8.first! : 0)
        }
        guard startsRoutineDefinition, parenDepth == 0 else { return }
        switch lower {
        case "begin": beginDepth += 1
        case "case" where beginDepth >= 1: beginDepth += 1  // CASE also ends with END
        case "end" where beginDepth > 0: beginDepth -= 1
        default: break
        }
    }

    /// CREATE FUNCTION, CREATE PROCEDURE, CREATE OR REPLACE FUNCTION|PROCEDURE.
    private var startsRoutineDefinition: Bool {
        func word(_ index: Int) -> UInt8 { index < leadingWords.count ? leadingWords[index] : 0 }
        let c = UInt8(ascii: "c"), f = UInt8(ascii: "f"), p = UInt8(ascii: "p"), o = UInt8(ascii: "o"), r = UInt8(ascii: "r")
        guard word(0) == c else { return false }
        return word(1) == f || word(1) == p || (word(1) == o && word(2) == r && (word(3) == f || word(3) == p))
    }

    static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    // MARK: Quotes and comments

    private func peek(_ index: Int) -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func blank(_ range: Range<Int>) {
        for i in range where bytes[i] != UInt8(ascii: "\n") { code[i] = UInt8(ascii: " ") }
    }

    private mutating func skipToEndOfLine(from start: Int) -> Int {
        var index = start
        while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
        return index
    }

    private mutating func skipLineComment(from start: Int) -> Int {
        let end = skipToEndOfLine(from: start)
        blank(start..<end)
        return end
    }

    /// Block comments nest in PostgreSQL.
    private mutating func skipBlockComment(from start: Int) -> Int {
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
        let end = min(index, bytes.count)
        blank(start..<end)
        return end
    }

    /// From the opening quote at `start`; a doubled quote stays inside.
    private mutating func skipQuoted(from start: Int, quote: UInt8, backslashEscapes: Bool, blank shouldBlank: Bool) -> Int {
        var index = start + 1
        while index < bytes.count {
            if backslashEscapes && bytes[index] == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if bytes[index] == quote {
                if peek(index + 1) == quote {
                    index += 2
                    continue
                }
                break
            }
            index += 1
        }
        let end = min(index, bytes.count)
        if shouldBlank && end > start + 1 { blank(start + 1..<end) }
        return min(end + 1, bytes.count)
    }

    /// `$1` (a parameter), `$tag$ … $tag$` (a dollar quote; the tag is an identifier
    /// without `$`), or a lone `$`.
    private mutating func skipDollar(from start: Int) -> Int {
        var index = start + 1
        if let digit = peek(index), digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") {
            while let next = peek(index), next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") { index += 1 }
            return index
        }
        if let first = peek(index), Self.isIdentifierStart(first) {
            while let next = peek(index), SQLSplitter.isIdentifierByte(next) { index += 1 }
        }
        guard peek(index) == UInt8(ascii: "$") else { return start + 1 }
        let tag = bytes[start...index]
        let bodyStart = index + 1
        var search = bodyStart
        while search + tag.count <= bytes.count {
            if bytes[search] == UInt8(ascii: "$") && bytes[search..<search + tag.count].elementsEqual(tag) {
                blank(bodyStart..<search)
                return search + tag.count
            }
            search += 1
        }
        blank(bodyStart..<bytes.count)
        return bytes.count
    }
}
