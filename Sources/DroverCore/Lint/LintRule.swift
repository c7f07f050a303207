/// Every lint rule of `droverctl check`, by its stable code (docs/lint-rules.md
/// lists each with a bad and a safe example). Errors stop a revision from loading;
/// warnings fail `check --strict` only.
public enum LintRule: String, Sendable, CaseIterable {
    // Errors: the section cannot run as written.
    case transactionControl = "transaction-control"
    case notInTransaction = "not-in-transaction"
    case psqlMetaCommand = "psql-meta-command"
    case copyFromStdin = "copy-from-stdin"
    // Warnings: old code breaks (expand only).
    case dropColumn = "drop-column"
    case dropTable = "drop-table"
    case renameColumn = "rename-column"
    case renameTable = "rename-table"
    // Warnings: locks held while a table is scanned or rewritten.
    case addColumnNotNullWithoutDefault = "add-column-not-null"
    case volatileDefault = "volatile-default"
    case createIndexWithoutConcurrently = "create-index-not-concurrently"
    case dropIndexWithoutConcurrently = "drop-index-not-concurrently"
    case reindexWithoutConcurrently = "reindex-not-concurrently"
    case detachPartitionWithoutConcurrently = "detach-partition-not-concurrently"
    case alterColumnType = "alter-column-type"
    case setNotNull = "set-not-null"
    case addConstraintWithoutNotValid = "add-constraint-not-valid"
    case addColumnReferences = "add-column-references"
    case addUniqueConstraintWithoutIndex = "add-unique-constraint"
    case lockHeldThroughScan = "lock-held-through-scan"
    case truncate = "truncate"
    case vacuumFull = "vacuum-full"
    case identifierTooLong = "identifier-too-long"

    public var isError: Bool {
        switch self {
        case .transactionControl, .notInTransaction, .psqlMetaCommand, .copyFromStdin: true
        default: false
        }
    }

    /// Rules about code that still runs against the old schema: they matter while
    /// both versions run, which is the expand phase; a contract drops on purpose.
    var onlyInExpand: Bool {
        switch self {
        case .dropColumn, .dropTable, .renameColumn, .renameTable: true
        default: false
        }
    }

    /// The first PostgreSQL major version where the rule's safe form exists.
    var minimumVersion: Int {
        switch self {
        case .reindexWithoutConcurrently: 12
        case .detachPartitionWithoutConcurrently: 14
        default: 0
        }
    }

    public var problem: String {
        switch self {
        case .transactionControl:
            "transaction control inside a section: drover runs each section in its own transaction (or statement by statement with '-- drover:no-transaction'), and a COMMIT in the middle would commit half a phase"
        case .notInTransaction: "PostgreSQL refuses this inside a transaction block, and this section runs in one"
        case .psqlMetaCommand: "a psql meta-command: drover sends SQL to the server, it is not psql"
        case .copyFromStdin: "COPY ... FROM STDIN reads the lines after it in psql; drover has no such input"
        case .dropColumn: "DROP COLUMN in expand breaks old code that still reads the column"
        case .dropTable: "DROP TABLE in expand breaks old code that still uses the table"
        case .renameColumn: "RENAME COLUMN in expand breaks old code that uses the old name"
        case .renameTable: "RENAME TO in expand breaks old code that uses the old name"
        case .addColumnNotNullWithoutDefault: "ADD COLUMN ... NOT NULL without DEFAULT fails on a non-empty table and breaks inserts from old code"
        case .volatileDefault: "ADD COLUMN with a volatile DEFAULT or a STORED generated column rewrites the table under an ACCESS EXCLUSIVE lock"
        case .createIndexWithoutConcurrently: "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds"
        case .dropIndexWithoutConcurrently: "DROP INDEX without CONCURRENTLY waits for and then blocks every query on the table"
        case .reindexWithoutConcurrently: "REINDEX without CONCURRENTLY blocks writes (and reads that use the index) while it builds"
        case .detachPartitionWithoutConcurrently: "DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the parent table"
        case .alterColumnType: "ALTER COLUMN ... TYPE rewrites the table (and its indexes) under an ACCESS EXCLUSIVE lock"
        case .setNotNull:
            "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock (lock_timeout limits the wait for the lock, not how long it is held)"
        case .addConstraintWithoutNotValid: "ADD CONSTRAINT without NOT VALID checks every row under a lock that blocks writes"
        case .addColumnReferences: "ADD COLUMN ... REFERENCES locks the referenced table against writes while the constraint is added"
        case .addUniqueConstraintWithoutIndex: "a UNIQUE/PRIMARY KEY/EXCLUDE constraint builds its index under a lock that blocks writes"
        case .lockHeldThroughScan:
            "an earlier statement of this transaction took a lock that blocks writes, and this statement scans or rewrites a table while the lock is held"
        case .truncate: "TRUNCATE takes an ACCESS EXCLUSIVE lock and empties the table (CASCADE empties every table that references it too)"
        case .vacuumFull: "VACUUM FULL and CLUSTER rewrite the table under an ACCESS EXCLUSIVE lock"
        case .identifierTooLong: "an identifier longer than 63 bytes is silently truncated by PostgreSQL"
        }
    }

    /// A form that works with old code running and a backfill in flight.
    public var saferForm: String {
        switch self {
        case .transactionControl: "remove BEGIN/COMMIT; split work that must commit separately into a '-- drover:no-transaction' section or another revision"
        case .notInTransaction: "put '-- drover:no-transaction' as the first line of the section"
        case .psqlMetaCommand: "write the SQL itself into the section"
        case .copyFromStdin: "INSERT ... VALUES, or COPY from a server-side file"
        case .dropColumn, .dropTable: "move the DROP to the contract section, which runs after release"
        case .renameColumn: "add the new column, backfill it, keep both in sync, and drop the old one in contract"
        case .renameTable: "create the new table (or a view under the new name) in expand and drop the old name in contract"
        case .addColumnNotNullWithoutDefault:
            "add the column nullable (or with a constant DEFAULT), fill it in backfill, and make it NOT NULL in contract through a validated CHECK (see set-not-null)"
        case .volatileDefault: "add the column nullable with no default (or a constant one), fill it in backfill, then SET DEFAULT"
        case .createIndexWithoutConcurrently: "CREATE INDEX CONCURRENTLY in a section that starts with '-- drover:no-transaction'"
        case .dropIndexWithoutConcurrently: "DROP INDEX CONCURRENTLY in a section that starts with '-- drover:no-transaction'"
        case .reindexWithoutConcurrently: "REINDEX ... CONCURRENTLY in a section that starts with '-- drover:no-transaction'"
        case .detachPartitionWithoutConcurrently: "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY in a section that starts with '-- drover:no-transaction'"
        case .alterColumnType: "add a column of the new type, fill it in backfill (and keep it in sync with a trigger), and switch over in contract"
        case .setNotNull:
            "in the contract (after the backfill), in a '-- drover:no-transaction' section: ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c; ALTER COLUMN col SET NOT NULL; DROP CONSTRAINT c"
        case .addConstraintWithoutNotValid:
            "in a '-- drover:no-transaction' contract (after the backfill): ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT as a statement of its own"
        case .addColumnReferences:
            "add the column without REFERENCES, then in a '-- drover:no-transaction' section ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID and VALIDATE CONSTRAINT as a statement of its own"
        case .addUniqueConstraintWithoutIndex:
            "CREATE UNIQUE INDEX CONCURRENTLY (no-transaction section), then ADD CONSTRAINT ... UNIQUE/PRIMARY KEY USING INDEX"
        case .lockHeldThroughScan: "give the scanning statement its own transaction: a '-- drover:no-transaction' section, or a later phase"
        case .truncate: "delete in batches in a backfill, or drop the table in contract after release"
        case .vacuumFull: "pg_repack or pg_squeeze, which rewrite without holding the lock"
        case .identifierTooLong: "a name of at most 63 bytes"
        }
    }
}

/// A lint rule that matched a statement.
public struct LintFinding: Sendable, Hashable {
    public var rule: LintRule
    public var line: Int
    public var statement: String
    /// What this statement adds to the rule's text (e.g. the line of the lock).
    public var detail: String?

    public var message: String {
        "\(rule.problem)\(detail.map { " (\($0))" } ?? ""): '\(statement)'; safer: \(rule.saferForm) [\(rule.rawValue)]"
    }
}

/// `-- drover:lint-ignore RULE[,RULE…] reason`: exempts the statement that follows.
public struct LintIgnore: Sendable, Hashable {
    public var line: Int
    public var rules: Set<LintRule>
    public var reason: String
}

/// Settings of `fleet.lint`.
public struct LintSettings: Sendable, Hashable {
    public static let defaultPostgresVersion = 13
    /// The oldest PostgreSQL major version the fleet runs.
    public var postgresVersion: Int

    public init(postgresVersion: Int = LintSettings.defaultPostgresVersion) {
        self.postgresVersion = postgresVersion
    }
}
