/// What PostgreSQL does with a statement and a transaction block: statements that
/// end or open one, and statements it refuses inside one (SQLSTATE 25001). The
/// lists are checked against a real server in `TransactionControlTests`.
public enum TransactionRules {
    /// `BEGIN`, `COMMIT`, `ROLLBACK` (not `ROLLBACK TO`), `END`, `ABORT`,
    /// `START TRANSACTION`, `PREPARE TRANSACTION`, `COMMIT/ROLLBACK PREPARED`: the
    /// command's name, or `nil`.
    public static func transactionControl(_ statement: SQLStatement) -> String? {
        guard ["BEGIN", "START", "COMMIT", "ROLLBACK", "END", "ABORT", "PREPARE"].contains(leadingWord(statement.code)) else { return nil }
        let code = SQLRules.normalised(statement.code)
        let patterns: [(Regex<Substring>, String)] = [
            (#/^BEGIN\b/#, "BEGIN"),
            (#/^START\s+TRANSACTION\b/#, "START TRANSACTION"),
            (#/^COMMIT\s+PREPARED\b/#, "COMMIT PREPARED"),
            (#/^ROLLBACK\s+PREPARED\b/#, "ROLLBACK PREPARED"),
            (#/^(?:COMMIT|END)\b(?:\s+(?:WORK|TRANSACTION))?\s+AND\s+CHAIN\b/#, "COMMIT AND CHAIN"),
            (#/^COMMIT\b/#, "COMMIT"),
            (#/^END\b/#, "END"),
            (#/^PREPARE\s+TRANSACTION\b/#, "PREPARE TRANSACTION"),
            (#/^(?:ROLLBACK|ABORT)\b(?!\s+(?:WORK\s+|TRANSACTION\s+)?TO\b)/#, "ROLLBACK"),
        ]
        return patterns.first { code.firstMatch(of: $0.0) != nil }?.1
    }

    /// Statements PostgreSQL refuses inside a transaction block: what to call it,
    /// or `nil`.
    public static func refusedInTransactionBlock(_ statement: SQLStatement) -> String? {
        guard ["CREATE", "DROP", "REINDEX", "ALTER", "VACUUM", "CLUSTER", "DISCARD"].contains(leadingWord(statement.code)) else { return nil }
        let code = SQLRules.normalised(statement.code)
        let patterns: [(Regex<Substring>, String)] = [
            (#/^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\b/#, "CREATE INDEX CONCURRENTLY"),
            (#/^DROP\s+INDEX\s+CONCURRENTLY\b/#, "DROP INDEX CONCURRENTLY"),
            (#/^REINDEX\b.*\bCONCURRENTLY\b/#, "REINDEX CONCURRENTLY"),
            (#/^REINDEX\s+(?:\(.*\)\s+)?(?:DATABASE|SYSTEM)\b/#, "REINDEX DATABASE/SYSTEM"),
            (#/^ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b/#, "DETACH PARTITION CONCURRENTLY"),
            (#/^VACUUM\b/#, "VACUUM"),
            (#/^CREATE\s+DATABASE\b/#, "CREATE DATABASE"),
            (#/^DROP\s+DATABASE\b/#, "DROP DATABASE"),
            (#/^ALTER\s+DATABASE\b.*\bSET\s+TABLESPACE\b/#, "ALTER DATABASE SET TABLESPACE"),
            (#/^CREATE\s+TABLESPACE\b/#, "CREATE TABLESPACE"),
            (#/^DROP\s+TABLESPACE\b/#, "DROP TABLESPACE"),
            (#/^ALTER\s+SYSTEM\b/#, "ALTER SYSTEM"),
            (#/^CLUSTER\s*(?:VERBOSE\s*)?$/#, "CLUSTER of every table"),
            (#/^DISCARD\s+ALL\b/#, "DISCARD ALL"),
        ]
        return patterns.first { code.firstMatch(of: $0.0) != nil }?.1
    }

    /// Most statements are told apart by their first word, before any pattern runs.
    /// The first word of `normalised(code)`, without normalising the rest: a lane
    /// checks every tenant's statements, and most start with no such word.
    static func leadingWord(_ code: String) -> String {
        SQLRules.asciiUppercased(String(code.drop { $0.isWhitespace }.prefix { $0.isLetter }))
    }

    /// `COPY … FROM STDIN`: psql feeds it the lines that follow, which drover does not.
    public static func isCopyFromStdin(_ statement: SQLStatement) -> Bool {
        SQLRules.normalised(statement.code).firstMatch(of: #/^COPY\b.*\bFROM\s+STDIN\b/#) != nil
    }

    /// Command tags of statements that commit: `COMMIT` (also `COMMIT AND CHAIN`,
    /// which opens a new transaction at once) and `PREPARE TRANSACTION`. A ROLLBACK
    /// cannot be told from `ROLLBACK TO SAVEPOINT` by its tag.
    public static func commits(commandTag: String) -> Bool {
        commandTag == "COMMIT" || commandTag == "PREPARE TRANSACTION"
    }
}
