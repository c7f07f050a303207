/// Lints a revision repository section by section, in revision order, carrying
/// what earlier sections established (a `CHECK (col IS NOT NULL)` validated in an
/// expand makes a later `SET NOT NULL` safe on PostgreSQL 12+).
public struct Linter {
    public let settings: LintSettings
    /// `TABLE.COLUMN` with a validated `CHECK (col IS NOT NULL)`.
    private var validatedNotNull: Set<String> = []
    /// Constraints added as `CHECK (col IS NOT NULL) NOT VALID`: name → `TABLE.COLUMN`.
    private var notNullChecks: [String: String] = [:]

    public init(settings: LintSettings = LintSettings()) {
        self.settings = settings
    }

    /// Findings of every section of `graph`'s revisions, in revision order.
    public static func lint(_ graph: RevisionGraph, settings: LintSettings) -> [Diagnostic] {
        var linter = Linter(settings: settings)
        // A graph with errors (unknown parents, cycles) has no order: file order then.
        let revisions =
            graph.order.isEmpty
            ? graph.revisions.values.sorted { $0.location < $1.location }
            : graph.order.compactMap { graph[$0] }
        return revisions.flatMap { linter.lint($0) }
    }

    public mutating func lint(_ revision: Revision) -> [Diagnostic] {
        Phase.allCases.compactMap { revision.sections[$0] }.filter { $0.engine == .sql }.flatMap { section in
            lint(section).map { finding in
                Diagnostic(
                    finding.rule.isError ? .error : .warning, at: SourceLocation(file: section.location.file, line: finding.line), finding.message,
                    rule: finding.rule.rawValue)
            }
        }
    }

    /// The findings of one section, lint-ignores applied.
    public mutating func lint(_ section: Section) -> [LintFinding] {
        // A revert undoes its expand; what it establishes does not carry forward.
        var carried = self
        var walk = SectionWalk(section: section, settings: settings)
        var findings: [LintFinding] = []
        for statement in section.statements {
            var found = walk.findings(for: statement, linter: &carried)
            if let ignore = section.lintIgnore(for: statement) {
                found.removeAll { !$0.rule.isError && ignore.rules.contains($0.rule) }
            }
            findings += found
        }
        if section.phase != .revert { self = carried }
        return findings
    }

    fileprivate mutating func noteConstraints(of action: AlterAction, table: String) {
        if let added = action.addedConstraint, added.kind == "CHECK", let column = action.notNullCheckColumn {
            let key = "\(table).\(column)"
            if added.notValid { added.name.map { notNullChecks[$0] = key } } else { validatedNotNull.insert(key) }
        }
        if let name = action.validatedConstraint, let key = notNullChecks[name] { validatedNotNull.insert(key) }
        if let name = action.droppedConstraint { notNullChecks[name] = nil }
    }

    fileprivate func hasValidatedNotNullCheck(table: String, column: String) -> Bool {
        validatedNotNull.contains("\(table).\(column)")
    }
}

/// The walk through one section: what it created, and the first statement that
/// took a lock blocking writes, which a transactional section holds to its end.
private struct SectionWalk {
    let section: Section
    let settings: LintSettings
    var createdTables: Set<String> = []
    var createdIndexes: Set<String> = []
    var heldLock: (line: Int, table: String)?

    init(section: Section, settings: LintSettings) {
        self.section = section
        self.settings = settings
    }

    var inTransaction: Bool { !section.noTransaction }

    mutating func findings(for statement: SQLStatement, linter: inout Linter) -> [LintFinding] {
        let shape = StatementShape(statement)
        var found: [(LintRule, Int, String?)] = []
        func add(_ rule: LintRule, at offset: Int = 0, _ detail: String? = nil) { found.append((rule, offset, detail)) }

        if let command = TransactionRules.transactionControl(statement) {
            add(.transactionControl, inTransaction ? nil : "\(command) in a no-transaction section: each statement already commits on its own")
        }
        if inTransaction, let what = TransactionRules.refusedInTransactionBlock(statement) {
            add(.notInTransaction, what)
        }
        if TransactionRules.isCopyFromStdin(statement) { add(.copyFromStdin) }

        var locksTable: String?
        var scans = false

        if let table = shape.createdTable { createdTables.insert(table) }
        if let index = shape.createdIndex {
            if let name = index.name { createdIndexes.insert(name) }
            if !index.concurrently && !createdTables.contains(index.table) {
                add(.createIndexWithoutConcurrently)
                locksTable = index.table
                scans = true
            }
        }
        if let drop = shape.droppedIndexes, !drop.concurrently, !drop.names.allSatisfy(createdIndexes.contains) {
            add(.dropIndexWithoutConcurrently)
            locksTable = drop.names.first
        }
        let dropped = shape.droppedTables.filter { !createdTables.contains($0) }
        if !dropped.isEmpty {
            add(.dropTable)
            locksTable = dropped.first
        }
        if let truncate = shape.truncatedTables, !truncate.names.allSatisfy(createdTables.contains) {
            add(.truncate, truncate.cascade ? "with CASCADE" : nil)
            locksTable = truncate.names.first
        }
        if shape.isReindexWithoutConcurrently {
            add(.reindexWithoutConcurrently)
            scans = true
        }
        if shape.isVacuumFullOrCluster {
            add(.vacuumFull)
            scans = true
        }
        if shape.isDataChange { scans = true }
        for identifier in shape.overlongIdentifiers {
            add(.identifierTooLong, "\(identifier.utf8.count) bytes")
        }

        if let table = shape.alteredTable {
            let isNew = createdTables.contains(table)
            if shape.renamedTable, !isNew { add(.renameTable) }
            var onlyValidates = true
            for raw in shape.alterActions {
                let action = AlterAction(text: raw.text, offset: raw.offset)
                linter.noteConstraints(of: action, table: table)
                if action.validatedConstraint == nil { onlyValidates = false }
                // A table created in this section is empty and seen by no one yet.
                guard !isNew else { continue }
                if action.validatedConstraint != nil { scans = true }
                if action.isAddColumn {
                    if action.isNotNullWithoutDefault { add(.addColumnNotNullWithoutDefault, at: action.offset) }
                    if action.isStoredGenerated || action.hasVolatileDefault
                        || (settings.postgresVersion < 11 && action.defaultExpression != nil)
                    {
                        add(.volatileDefault, at: action.offset)
                        scans = true
                    }
                    if action.hasReferences { add(.addColumnReferences, at: action.offset) }
                    if action.hasUniqueOrPrimaryKey || action.isSerial && action.text.contains("PRIMARY") {
                        add(.addUniqueConstraintWithoutIndex, at: action.offset)
                        scans = true
                    }
                } else if let added = action.addedConstraint {
                    switch added.kind {
                    case "CHECK", "FOREIGN":
                        if !added.notValid {
                            add(.addConstraintWithoutNotValid, at: action.offset)
                            scans = true
                        }
                    default:
                        if !added.usingIndex {
                            add(.addUniqueConstraintWithoutIndex, at: action.offset)
                            scans = true
                        }
                    }
                } else if action.isDropColumn {
                    add(.dropColumn, at: action.offset)
                } else if action.isRenameColumn {
                    add(.renameColumn, at: action.offset)
                } else if action.isTypeChange {
                    add(.alterColumnType, at: action.offset)
                    scans = true
                } else if let column = action.setNotNullColumn {
                    if !(settings.postgresVersion >= 12 && linter.hasValidatedNotNullCheck(table: table, column: column)) {
                        add(.setNotNull, at: action.offset)
                        scans = true
                    }
                } else if action.isDetachPartition.0, !action.isDetachPartition.concurrently {
                    add(.detachPartitionWithoutConcurrently, at: action.offset)
                }
            }
            if !isNew && !onlyValidates { locksTable = table }
        }

        if inTransaction && section.phase != .backfill {
            if scans, let held = heldLock {
                add(.lockHeldThroughScan, "the lock on \(held.table.lowercased()) taken at line \(held.line)")
            }
            if heldLock == nil, let table = locksTable { heldLock = (statement.line, table) }
        }

        return found.compactMap { rule, offset, detail in
            if rule.onlyInExpand && section.phase != .expand { return nil }
            if settings.postgresVersion < rule.minimumVersion { return nil }
            return LintFinding(rule: rule, line: statement.line(atOffset: offset), statement: statement.summary, detail: detail)
        }
    }
}

extension Section {
    /// The `-- drover:lint-ignore` that stands before `statement` (with no other
    /// statement between them).
    func lintIgnore(for statement: SQLStatement) -> LintIgnore? {
        guard let index = statements.firstIndex(of: statement) else { return nil }
        let after = index > 0 ? statements[index - 1].line(atOffset: statements[index - 1].code.utf8.count) : 0
        return lintIgnores.last { $0.line < statement.line && $0.line > after }
    }
}
