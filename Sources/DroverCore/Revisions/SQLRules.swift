/// Rules about what a statement does, read from its blanked `code` (comments and
/// literal contents removed). They recognise the common spellings, which is what a
/// linter needs; they are not a SQL parser.
public enum SQLRules {
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`,
    /// `REINDEX ... CONCURRENTLY`: cannot run in a transaction block.
    public static func isConcurrentIndexOperation(_ statement: SQLStatement) -> Bool {
        let code = normalised(statement.code)
        return code.firstMatch(of: #/^(CREATE\s+(UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\b[^;]*?)\s+CONCURRENTLY\b/#) != nil
    }

    /// The index a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name` builds
    /// (schema-qualified when written so); `nil` for other statements.
    public static func concurrentlyCreatedIndex(_ statement: SQLStatement) -> (schema: String?, name: String)? {
        let code = asciiUppercased(statement.code)
        guard let match = code.firstMatch(of: #/^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?((?:"[^"]+"|[A-Z0-9_$]+)(?:\.(?:"[^"]+"|[A-Z0-9_$]+))?)\s+ON\b/#) else {
            return nil
        }
        // Take the name from the original text (case of quoted names matters).
        let lower = code.utf8.distance(from: code.startIndex, to: match.output.1.startIndex)
        let upper = code.utf8.distance(from: code.startIndex, to: match.output.1.endIndex)
        let original = String(decoding: Array(statement.text.utf8)[lower..<upper], as: UTF8.self)
        let parts = splitQualifiedName(original)
        return parts.count == 2 ? (parts[0], parts[1]) : (nil, parts[0])
    }

    /// Lints one statement of an expand section (SPEC §3): operations that take long
    /// locks or break code that still runs against the old schema.
    public static func lintExpand(_ statement: SQLStatement) -> [LintFinding] {
        let code = normalised(statement.code)
        var findings: [LintFinding] = []
        func add(_ rule: LintRule, at offset: Int = 0) {
            findings.append(LintFinding(rule: rule, line: statement.line(atOffset: offset), statement: statement.summary))
        }

        if code.firstMatch(of: #/^CREATE\s+(UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY\b)/#) != nil {
            add(.createIndexWithoutConcurrently)
        }
        if code.firstMatch(of: #/^DROP\s+TABLE\b/#) != nil {
            add(.dropTable)
        }
        if code.firstMatch(of: #/^ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?[^ ]+\s+RENAME\s+TO\b/#) != nil {
            add(.renameTable)
        }
        if code.firstMatch(of: #/^ALTER\s+TABLE\b/#) != nil {
            let original = asciiUppercased(statement.code)
            for action in alterTableActions(original) {
                let text = action.text
                if text.firstMatch(of: #/^ADD\s+(COLUMN\s+)?(?!CONSTRAINT\b|CHECK\b|UNIQUE\b|PRIMARY\b|FOREIGN\b|EXCLUDE\b)/#) != nil {
                    if text.firstMatch(of: #/\bNOT\s+NULL\b/#) != nil && text.firstMatch(of: #/\bDEFAULT\b/#) == nil
                        && text.firstMatch(of: #/\bGENERATED\b/#) == nil {
                        add(.addColumnNotNullWithoutDefault, at: action.offset)
                    }
                } else if text.firstMatch(of: #/^ADD\s+(CONSTRAINT\s+\S+\s+)?(CHECK|FOREIGN)\b/#) != nil {
                    if text.firstMatch(of: #/\bNOT\s+VALID\b/#) == nil { add(.addConstraintWithoutNotValid, at: action.offset) }
                } else if text.firstMatch(of: #/^ADD\s+(CONSTRAINT\s+\S+\s+)?(UNIQUE|PRIMARY\s+KEY|EXCLUDE)\b/#) != nil {
                    if text.firstMatch(of: #/\bUSING\s+INDEX\b/#) == nil { add(.addUniqueConstraintWithoutIndex, at: action.offset) }
                } else if text.firstMatch(of: #/^DROP\s+(?!CONSTRAINT\b)/#) != nil {
                    add(.dropColumn, at: action.offset)
                } else if text.firstMatch(of: #/^RENAME\s+(?!TO\b|CONSTRAINT\b)/#) != nil {
                    add(.renameColumn, at: action.offset)
                } else if text.firstMatch(of: #/^ALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b/#) != nil {
                    add(.alterColumnType, at: action.offset)
                } else if text.firstMatch(of: #/^ALTER\s+(COLUMN\s+)?\S+\s+SET\s+NOT\s+NULL\b/#) != nil {
                    add(.setNotNull, at: action.offset)
                }
            }
        }
        return findings
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
        guard let header = code.firstMatch(of: #/^\s*ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?(ONLY\s+)?("[^"]+"|[^\s"]+)(\."[^"]+"|\.[^\s"]+)?\s*\*?\s*/#) else { return [] }
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

/// The expand-section lint rules of SPEC §3, each with the safer form.
public enum LintRule: String, Sendable, CaseIterable {
    case addColumnNotNullWithoutDefault = "add-column-not-null"
    case dropColumn = "drop-column"
    case dropTable = "drop-table"
    case renameColumn = "rename-column"
    case renameTable = "rename-table"
    case createIndexWithoutConcurrently = "create-index-not-concurrently"
    case alterColumnType = "alter-column-type"
    case setNotNull = "set-not-null"
    case addConstraintWithoutNotValid = "add-constraint-not-valid"
    case addUniqueConstraintWithoutIndex = "add-unique-constraint"

    public var problem: String {
        switch self {
        case .addColumnNotNullWithoutDefault: "ADD COLUMN ... NOT NULL without DEFAULT fails on a non-empty table and breaks inserts from old code"
        case .dropColumn: "DROP COLUMN in expand breaks old code that still reads the column"
        case .dropTable: "DROP TABLE in expand breaks old code that still uses the table"
        case .renameColumn: "RENAME COLUMN in expand breaks old code that uses the old name"
        case .renameTable: "RENAME TO in expand breaks old code that uses the old name"
        case .createIndexWithoutConcurrently: "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds"
        case .alterColumnType: "ALTER COLUMN ... TYPE rewrites the table under an ACCESS EXCLUSIVE lock"
        case .setNotNull: "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock"
        case .addConstraintWithoutNotValid: "ADD CONSTRAINT without NOT VALID checks every row under a lock that blocks writes"
        case .addUniqueConstraintWithoutIndex: "ADD UNIQUE/PRIMARY KEY builds its index under a lock that blocks writes"
        }
    }

    public var saferForm: String {
        switch self {
        case .addColumnNotNullWithoutDefault: "add the column nullable (or with a DEFAULT), fill it in backfill, and SET NOT NULL in contract"
        case .dropColumn, .dropTable: "move the DROP to the contract section, which runs after release"
        case .renameColumn: "add the new column, backfill it, keep both in sync, and drop the old one in contract"
        case .renameTable: "create the new table (or a view under the new name) in expand and drop the old name in contract"
        case .createIndexWithoutConcurrently: "CREATE INDEX CONCURRENTLY in a section that starts with '-- drover:no-transaction'"
        case .alterColumnType: "add a column of the new type, backfill it, and switch over in contract"
        case .setNotNull: "ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID in expand, VALIDATE it, then SET NOT NULL in contract"
        case .addConstraintWithoutNotValid: "ADD CONSTRAINT ... NOT VALID in expand, then VALIDATE CONSTRAINT in a later phase"
        case .addUniqueConstraintWithoutIndex: "CREATE UNIQUE INDEX CONCURRENTLY (no-transaction), then ADD CONSTRAINT ... USING INDEX"
        }
    }
}

/// A lint rule that matched a statement.
public struct LintFinding: Sendable, Hashable {
    public var rule: LintRule
    public var line: Int
    public var statement: String

    public var message: String { "\(rule.problem): '\(statement)'; safer: \(rule.saferForm) [\(rule.rawValue)]" }
}
