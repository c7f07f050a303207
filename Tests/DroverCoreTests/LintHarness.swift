import DroverCore

/// Lints SQL as one section of a revision file, the way `check` reads it.
enum LintHarness {
    static func revisionText(_ sql: String, phase: Phase = .expand, noTransaction: Bool = false) -> String {
        "-- drover:revision r1\n-- drover:parent none\n-- drover:\(phase.rawValue)\n"
            + (noTransaction ? "-- drover:no-transaction\n" : "") + sql + "\n"
    }

    /// Every finding, errors included, in statement order.
    static func findings(_ sql: String, phase: Phase = .expand, noTransaction: Bool = false, postgresVersion: Int = 13) -> [LintFinding] {
        let (revision, _) = RevisionParser.parseKeepingErrors(revisionText(sql, phase: phase, noTransaction: noTransaction), file: "r1.sql")
        guard let section = revision?.sections[phase] else { return [] }
        var linter = Linter(settings: LintSettings(postgresVersion: postgresVersion))
        return linter.lint(section)
    }

    static func rules(_ sql: String, phase: Phase = .expand, noTransaction: Bool = false, postgresVersion: Int = 13) -> Set<LintRule> {
        Set(findings(sql, phase: phase, noTransaction: noTransaction, postgresVersion: postgresVersion).map(\.rule))
    }
}
