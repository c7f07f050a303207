/// What the lint rules need to know about one statement, read from its blanked
/// code (comments and literal contents removed, upper case). It recognises the
/// spellings migrations use; it is not a SQL parser.
struct StatementShape {
    let statement: SQLStatement
    /// Upper case, runs of blanks folded into one space.
    let code: String

    init(_ statement: SQLStatement) {
        self.statement = statement
        self.code = SQLRules.normalised(statement.code)
    }

    /// `"Sch".Tbl` → `TBL`: the last part, unquoted (names compare case-blind here).
    static func unqualified(_ text: Substring) -> String {
        let last = SQLRules.splitQualifiedName(String(text)).last ?? ""
        return last.uppercased()
    }

    // MARK: What the statement is

    /// `CREATE [TEMP|UNLOGGED] TABLE [IF NOT EXISTS] name`
    var createdTable: String? {
        guard
            let match = code.firstMatch(
                of:
                    #/^CREATE\s+((GLOBAL|LOCAL)\s+)?((TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(?<name>("[^"]+"|[^\s(),;"]+)(\.("[^"]+"|[^\s(),;"]+))*)/#
            )
        else { return nil }
        return Self.unqualified(match.output.name)
    }

    /// `ALTER TABLE [IF EXISTS] [ONLY] name`
    var alteredTable: String? {
        guard let match = code.firstMatch(of: #/^ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?(ONLY\s+)?(?<name>("[^"]+"|[^\s(),;"]+)(\.("[^"]+"|[^\s(),;"]+))*)/#) else {
            return nil
        }
        return Self.unqualified(match.output.name)
    }

    /// The comma-separated actions of an ALTER TABLE, each normalised, with the
    /// byte offset where it starts.
    var alterActions: [(text: String, offset: Int)] {
        alteredTable == nil ? [] : SQLRules.alterTableActions(SQLRules.asciiUppercased(statement.code))
    }

    /// `CREATE [UNIQUE] INDEX [CONCURRENTLY] … ON [ONLY] table`
    var createdIndex: (table: String, name: String?, concurrently: Bool)? {
        guard
            let match = code.firstMatch(
                of:
                    #/^CREATE\s+(UNIQUE\s+)?INDEX\s+(?<concurrently>CONCURRENTLY\s+)?(IF\s+NOT\s+EXISTS\s+)?(?<name>\S+\s+)?ON\s+(ONLY\s+)?(?<table>("[^"]+"|[^\s(),;"]+)(\.("[^"]+"|[^\s(),;"]+))*)/#
            )
        else { return nil }
        let name = match.output.name.map { Self.unqualified($0.dropLast()) }
        return (Self.unqualified(match.output.table), name, match.output.concurrently != nil)
    }

    /// `DROP INDEX [CONCURRENTLY] [IF EXISTS] name, …`
    var droppedIndexes: (names: [String], concurrently: Bool)? {
        guard let match = code.firstMatch(of: #/^DROP\s+INDEX\s+(?<concurrently>CONCURRENTLY\s+)?(IF\s+EXISTS\s+)?(?<names>[^;]*?)(\s+(CASCADE|RESTRICT))?$/#)
        else { return nil }
        let names = match.output.names.split(separator: ",").map { Self.unqualified(Substring($0.trimmingWhitespace())) }
        return (names, match.output.concurrently != nil)
    }

    var droppedTables: [String] {
        guard let match = code.firstMatch(of: #/^DROP\s+TABLE\s+(IF\s+EXISTS\s+)?(?<names>[^;]*?)(\s+(CASCADE|RESTRICT))?$/#) else { return [] }
        return match.output.names.split(separator: ",").map { Self.unqualified(Substring($0.trimmingWhitespace())) }
    }

    var renamedTable: Bool { code.firstMatch(of: #/^ALTER\s+TABLE\s+(IF\s+EXISTS\s+)?\S+\s+RENAME\s+TO\b/#) != nil }

    var truncatedTables: (names: [String], cascade: Bool)? {
        guard
            let match = code.firstMatch(
                of: #/^TRUNCATE\s+(TABLE\s+)?(ONLY\s+)?(?<names>[^;]*?)(\s+(RESTART|CONTINUE)\s+IDENTITY)?(\s+(?<mode>CASCADE|RESTRICT))?$/#)
        else { return nil }
        let names = match.output.names.split(separator: ",").map {
            Self.unqualified(Substring($0.trimmingWhitespace().replacing("*", with: "").trimmingWhitespace()))
        }
        return (names, match.output.mode == "CASCADE")
    }

    var isReindexWithoutConcurrently: Bool {
        code.hasPrefix("REINDEX") && code.firstMatch(of: #/\bCONCURRENTLY\b/#) == nil
            && code.firstMatch(of: #/^REINDEX\s+(\(.*\)\s+)?(DATABASE|SYSTEM)\b/#) == nil
    }

    var isVacuumFullOrCluster: Bool {
        code.firstMatch(of: #/^VACUUM\s+(\([^)]*\bFULL\b[^)]*\)|FULL\b)/#) != nil || code.firstMatch(of: #/^CLUSTER\b/#) != nil
    }

    var isDataChange: Bool {
        code.firstMatch(of: #/^(UPDATE|DELETE)\b/#) != nil || code.firstMatch(of: #/^INSERT\b.*\bSELECT\b/#) != nil
            || code.firstMatch(of: #/^WITH\b.*\b(UPDATE|DELETE|INSERT)\b/#) != nil
    }

    /// Every identifier of the statement (quoted or not) longer than PostgreSQL's 63 bytes.
    var overlongIdentifiers: [String] {
        code.matches(of: #/"[^"]{64,}"|[A-Z_\x{80}-\x{10FFFF}][A-Z0-9_$\x{80}-\x{10FFFF}]{63,}/#).map { String($0.output) }
            .filter { $0.utf8.count > ($0.hasPrefix("\"") ? 65 : 63) }
    }
}

/// One action of an ALTER TABLE (already normalised).
struct AlterAction {
    let text: String
    let offset: Int

    var isAddColumn: Bool {
        text.firstMatch(of: #/^ADD\s+(COLUMN\s+)?(IF\s+NOT\s+EXISTS\s+)?(?!CONSTRAINT\b|CHECK\b|UNIQUE\b|PRIMARY\b|FOREIGN\b|EXCLUDE\b)/#) != nil
    }

    /// `ADD [CONSTRAINT name] CHECK|FOREIGN KEY|UNIQUE|PRIMARY KEY|EXCLUDE …`: the kind and the name.
    var addedConstraint: (kind: String, name: String?, notValid: Bool, usingIndex: Bool)? {
        guard let match = text.firstMatch(of: #/^ADD\s+(CONSTRAINT\s+(?<name>\S+)\s+)?(?<kind>CHECK|FOREIGN|UNIQUE|PRIMARY|EXCLUDE)\b/#) else { return nil }
        return (
            String(match.output.kind), match.output.name.map { StatementShape.unqualified($0) },
            text.firstMatch(of: #/\bNOT\s+VALID\b/#) != nil, text.firstMatch(of: #/\bUSING\s+INDEX\b/#) != nil
        )
    }

    /// `CHECK (col IS NOT NULL)` of an added constraint: the column.
    var notNullCheckColumn: String? {
        guard let match = text.firstMatch(of: #/\bCHECK\s*\(\s*\(?\s*(?<column>"[^"]+"|[^\s()"]+)\s+IS\s+NOT\s+NULL\s*\)?\s*\)/#) else { return nil }
        return StatementShape.unqualified(match.output.column)
    }

    var validatedConstraint: String? {
        text.firstMatch(of: #/^VALIDATE\s+CONSTRAINT\s+(?<name>\S+)/#).map { StatementShape.unqualified($0.output.name) }
    }

    var droppedConstraint: String? {
        text.firstMatch(of: #/^DROP\s+CONSTRAINT\s+(IF\s+EXISTS\s+)?(?<name>\S+)/#).map { StatementShape.unqualified($0.output.name) }
    }

    var isDropColumn: Bool { text.firstMatch(of: #/^DROP\s+(?!CONSTRAINT\b|DEFAULT\b|NOT\b|EXPRESSION\b|IDENTITY\b)/#) != nil }
    var isRenameColumn: Bool { text.firstMatch(of: #/^RENAME\s+(?!TO\b|CONSTRAINT\b)/#) != nil }
    var isTypeChange: Bool { text.firstMatch(of: #/^ALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b/#) != nil }
    var isDetachPartition: (Bool, concurrently: Bool) {
        (text.hasPrefix("DETACH PARTITION"), text.firstMatch(of: #/\b(CONCURRENTLY|FINALIZE)\b/#) != nil)
    }

    /// `ALTER [COLUMN] col SET NOT NULL`: the column.
    var setNotNullColumn: String? {
        text.firstMatch(of: #/^ALTER\s+(COLUMN\s+)?(?<column>\S+)\s+SET\s+NOT\s+NULL\b/#).map { StatementShape.unqualified($0.output.column) }
    }

    // MARK: ADD COLUMN details

    var isNotNullWithoutDefault: Bool {
        text.firstMatch(of: #/\bNOT\s+NULL\b/#) != nil && text.firstMatch(of: #/\bDEFAULT\b/#) == nil
            && text.firstMatch(of: #/\bGENERATED\b/#) == nil && !isSerial
    }

    var isSerial: Bool { text.firstMatch(of: #/^ADD\s+(COLUMN\s+)?(IF\s+NOT\s+EXISTS\s+)?\S+\s+(SMALL|BIG)?SERIAL[248]?\b/#) != nil }
    var hasReferences: Bool { text.firstMatch(of: #/\bREFERENCES\b/#) != nil }
    var hasUniqueOrPrimaryKey: Bool { text.firstMatch(of: #/\b(UNIQUE|PRIMARY\s+KEY)\b/#) != nil }
    var isStoredGenerated: Bool { text.firstMatch(of: #/\bGENERATED\s+ALWAYS\s+AS\s*\(.*\)\s*STORED\b/#) != nil }

    /// The DEFAULT expression, up to the next column constraint.
    var defaultExpression: String? {
        guard let range = text.firstRange(of: #/\bDEFAULT\s+/#) else { return nil }
        var depth = 0
        var expression = ""
        let stops = #/^\s+(NOT\s+NULL|NULL|CHECK|REFERENCES|UNIQUE|PRIMARY|CONSTRAINT|GENERATED|COLLATE)\b/#
        var index = range.upperBound
        while index < text.endIndex {
            let character = text[index]
            if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
            if depth == 0, text[index...].prefixMatch(of: stops) != nil { break }
            expression.append(character)
            index = text.index(after: index)
        }
        return expression.trimmingWhitespace()
    }

    /// Functions whose value is taken once for the whole statement (not volatile),
    /// so a DEFAULT calling them without arguments needs no rewrite (PostgreSQL 11+).
    static let nonVolatileCalls: Set<String> = [
        "NOW", "CURRENT_TIMESTAMP", "TRANSACTION_TIMESTAMP", "STATEMENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME",
        "LOCALTIMESTAMP", "LOCALTIME", "CURRENT_USER", "SESSION_USER", "CURRENT_SCHEMA", "CURRENT_DATABASE", "VERSION", "PI",
    ]
    /// Words that look like calls in an expression but are not functions.
    static let nonCalls: Set<String> = [
        "ARRAY", "ROW", "INTERVAL", "NUMERIC", "DECIMAL", "VARCHAR", "CHAR", "CHARACTER", "TIMESTAMP", "TIME", "BIT", "VARBIT", "AND", "OR", "NOT", "IN",
    ]

    /// A DEFAULT is volatile unless it is made of literals, casts and operators,
    /// or calls only known non-volatile functions without arguments.
    var hasVolatileDefault: Bool {
        guard let expression = defaultExpression else { return false }
        for call in expression.matches(of: #/(?<function>[A-Z_][A-Z0-9_$]*(\.[A-Z_][A-Z0-9_$]*)?)\s*\((?<arguments>[^()]*)/#) {
            let function = String(call.output.function.split(separator: ".").last ?? "")
            if Self.nonCalls.contains(function) { continue }
            let hasArguments = !call.output.arguments.trimmingWhitespace().isEmpty
            if !Self.nonVolatileCalls.contains(function) || hasArguments { return true }
        }
        return false
    }
}
