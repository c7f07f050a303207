import Foundation

/// Reads one revision file (docs/revisions.md): header directives, then sections.
///
///     -- drover:revision 3f2a9c1e
///     -- drover:parent ae98aa32e0d2
///     -- drover:message add new_field to documents
///     -- drover:expand
///     ALTER TABLE documents ADD COLUMN new_field text;
///
/// Every problem in the file is reported, each with its line.
public struct RevisionParser {
    static let headerDirectives = ["revision", "parent", "message"]
    static let sectionDirectives = Phase.allCases.map(\.rawValue)
    static let allDirectives = headerDirectives + sectionDirectives + ["no-transaction", "lint-ignore"]
    static let backfillOptions = ["batch", "pause"]

    public let file: String
    private var diagnostics: [Diagnostic] = []

    public init(file: String) { self.file = file }

    /// The revision when the file has no error.
    public static func parse(_ text: String, file: String) -> (revision: Revision?, diagnostics: [Diagnostic]) {
        let (revision, diagnostics) = parseKeepingErrors(text, file: file)
        return (diagnostics.errors.isEmpty ? revision : nil, diagnostics)
    }

    /// The revision whenever its header can be read, errors in its sections or not:
    /// `check` links and lints it with the others instead of reporting every
    /// revision after it as having an unknown parent.
    public static func parseKeepingErrors(_ text: String, file: String) -> (revision: Revision?, diagnostics: [Diagnostic]) {
        var parser = RevisionParser(file: file)
        let revision = parser.parse(text)
        return (revision, parser.diagnostics)
    }

    private struct OpenSection {
        var phase: Phase
        var line: Int
        var backfill: BackfillOptions?
        var bodyLines: [(number: Int, text: Substring)] = []
        var lintIgnores: [LintIgnore] = []
    }

    private mutating func parse(_ text: String) -> Revision? {
        var id: (value: String, line: Int)?
        var parents: (value: [String], line: Int)?
        var message: String?
        var sections: [Phase: Section] = [:]
        var open: OpenSection?

        func close(_ open: OpenSection?, into sections: inout [Phase: Section], parser: inout RevisionParser) {
            guard let open else { return }
            sections[open.phase] = parser.makeSection(open)
        }

        for (index, line) in text.lines.enumerated() {
            let number = index + 1
            guard let directive = Self.directive(in: line) else {
                if var current = open {
                    current.bodyLines.append((number, line))
                    open = current
                } else if !Self.isBlankOrComment(line) {
                    error(number, "SQL outside a section: put it below '-- drover:expand', '-- drover:backfill', '-- drover:contract' or '-- drover:revert'")
                }
                continue
            }
            switch directive.name {
            case "revision":
                guard open == nil else {
                    error(number, "'-- drover:revision' must come before the first section")
                    continue
                }
                if id != nil {
                    error(number, "revision id given twice (first on line \(id!.line))")
                    continue
                }
                let value = Self.stripTrailingComment(directive.argument)
                if value.isEmpty {
                    error(number, "'-- drover:revision' needs an id, e.g. '-- drover:revision 3f2a9c1e'")
                } else if !Self.isValidID(value) {
                    error(number, "revision id '\(value)' may only hold letters, digits, '_', '-' and '.' (at most 64)")
                } else {
                    id = (value, number)
                }
            case "parent":
                guard open == nil else {
                    error(number, "'-- drover:parent' must come before the first section")
                    continue
                }
                if parents != nil {
                    error(number, "parent given twice (first on line \(parents!.line)); list both ids on one line for a merge revision")
                    continue
                }
                let words = Self.stripTrailingComment(directive.argument).split(whereSeparator: \.isWhitespace).map(String.init)
                if words.isEmpty {
                    error(number, "'-- drover:parent' needs the parent id, or 'none' for the root revision")
                } else if words == ["none"] {
                    parents = ([], number)
                } else if let bad = words.first(where: { !Self.isValidID($0) || $0 == "none" }) {
                    error(number, "'\(bad)' is not a valid parent id")
                } else if Set(words).count != words.count {
                    error(number, "parent listed twice on one line")
                } else {
                    parents = (words, number)
                }
            case "message":
                guard open == nil else {
                    error(number, "'-- drover:message' must come before the first section")
                    continue
                }
                if message != nil {
                    error(number, "message given twice")
                    continue
                }
                message = directive.argument.trimmingWhitespace()
            case "lint-ignore":
                guard var current = open else {
                    error(number, "'-- drover:lint-ignore' belongs inside a section, on the line before the statement it exempts")
                    continue
                }
                current.bodyLines.append((number, line))
                if let ignore = parseLintIgnore(directive.argument, line: number) { current.lintIgnores.append(ignore) }
                open = current
            case "no-transaction":
                guard var current = open else {
                    error(number, "'-- drover:no-transaction' must be the first line of a section")
                    continue
                }
                if current.bodyLines.contains(where: { !Self.isBlankOrComment($0.text) || Self.directive(in: $0.text) != nil }) {
                    error(number, "'-- drover:no-transaction' must be the first line of its section (line \(current.line))")
                }
                current.bodyLines.append((number, line))
                open = current
            default:
                guard let phase = Phase(rawValue: directive.name) else {
                    error(number, "unknown directive '-- drover:\(directive.name)'\(Suggestion.didYouMean(directive.name, in: Self.allDirectives))")
                    continue
                }
                close(open, into: &sections, parser: &self)
                open = nil
                if sections[phase] != nil {
                    error(number, "section '\(phase.rawValue)' appears twice")
                    continue
                }
                open = OpenSection(phase: phase, line: number, backfill: parseOptions(directive.argument, phase: phase, line: number))
            }
        }
        close(open, into: &sections, parser: &self)

        if id == nil { error(1, "missing '-- drover:revision <id>' header") }
        if parents == nil { error(1, "missing '-- drover:parent <id>' header ('-- drover:parent none' for the root revision)") }
        if sections.isEmpty { error(1, "no section: a revision needs at least one of expand, backfill, contract") }
        if let id, let parents, parents.value.contains(id.value) {
            error(parents.line, "revision \(id.value) lists itself as its parent")
        }
        guard let id, let parents, !sections.isEmpty, !parents.value.contains(id.value) else { return nil }
        return Revision(
            id: id.value,
            parents: parents.value,
            message: message ?? "",
            location: SourceLocation(file: file, line: id.line),
            sections: sections
        )
    }

    private mutating func parseOptions(_ argument: String, phase: Phase, line: Int) -> BackfillOptions? {
        let words = Self.stripTrailingComment(argument).split(whereSeparator: \.isWhitespace)
        guard phase == .backfill else {
            if !words.isEmpty { error(line, "'-- drover:\(phase.rawValue)' takes no options (found '\(words.joined(separator: " "))')") }
            return nil
        }
        var options = BackfillOptions()
        for word in words {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                error(line, "backfill option '\(word)' must be written key=value, e.g. batch=1000 pause=50ms")
                continue
            }
            switch parts[0] {
            case "batch":
                if let value = Int(parts[1]), value > 0 {
                    options.batch = value
                } else {
                    error(line, "batch=\(parts[1]) must be a positive whole number")
                }
            case "pause":
                do { options.pause = try DurationText.parse(parts[1]) } catch { self.error(line, "pause=\(parts[1]): \(error)") }
            default:
                error(line, "unknown backfill option '\(parts[0])'\(Suggestion.didYouMean(parts[0], in: Self.backfillOptions)); known: batch, pause")
            }
        }
        return options
    }

    private mutating func makeSection(_ open: OpenSection) -> Section {
        let firstBodyLine = open.bodyLines.first?.number ?? open.line + 1
        let body = open.bodyLines.map { String($0.text) }.joined(separator: "\n")
        let noTransaction = open.bodyLines.contains { Self.directive(in: $0.text)?.name == "no-transaction" }
        let scanned = SQLSplitter.scan(body, firstLine: firstBodyLine)
        let statements = scanned.statements
        let location = SourceLocation(file: file, line: open.line)
        if noTransaction && open.phase == .backfill {
            error(open.line, "a backfill runs each batch in its own transaction; '-- drover:no-transaction' does not apply to it")
        }
        for meta in scanned.metaCommands {
            let rule = LintRule.psqlMetaCommand
            error(meta.line, "\(rule.problem): '\(meta.text)'; \(rule.saferForm) [\(rule.rawValue)]")
        }
        if open.phase == .backfill, !statements.isEmpty,
            !statements.contains(where: { SQLSplitter.substitute("batch", with: "", in: $0) != $0.text })
        {
            warning(open.line, "backfill has no ':batch' placeholder: every run is one unbounded batch; limit it with 'LIMIT :batch'")
        }
        let section = Section(
            phase: open.phase,
            location: location,
            noTransaction: noTransaction,
            backfill: open.backfill,
            body: body,
            statements: statements,
            checksum: Checksum.of(sectionBody: body),
            lintIgnores: open.lintIgnores
        )
        // Errors (transaction control, statements refused in a transaction block,
        // COPY FROM STDIN) keep the revision from loading; warnings are check's.
        var linter = Linter()
        for finding in linter.lint(section) where finding.rule.isError {
            diagnostics.append(Diagnostic(.error, at: SourceLocation(file: file, line: finding.line), finding.message, rule: finding.rule.rawValue))
        }
        return section
    }

    /// `RULE[,RULE…] reason`: every rule known, a reason given.
    private mutating func parseLintIgnore(_ argument: String, line: Int) -> LintIgnore? {
        let words = argument.split(maxSplits: 1, whereSeparator: \.isWhitespace)
        guard let list = words.first else {
            error(line, "'-- drover:lint-ignore' needs the rule codes and a reason, e.g. '-- drover:lint-ignore drop-column the column was never read'")
            return nil
        }
        var rules: Set<LintRule> = []
        for code in list.split(separator: ",") {
            guard let rule = LintRule(rawValue: String(code)) else {
                error(line, "unknown lint rule '\(code)'\(Suggestion.didYouMean(String(code), in: LintRule.allCases.map(\.rawValue)))")
                continue
            }
            if rule.isError { error(line, "'\(code)' is an error, not a warning: the section cannot run as written, so it cannot be ignored") }
            rules.insert(rule)
        }
        let reason = words.count > 1 ? String(words[1]).trimmingWhitespace() : ""
        if reason.isEmpty { error(line, "'-- drover:lint-ignore \(list)' needs a reason after the rule codes") }
        return rules.isEmpty || reason.isEmpty ? nil : LintIgnore(line: line, rules: rules, reason: reason)
    }

    // MARK: Lines

    /// `-- drover:name argument` (leading blanks allowed).
    static func directive(in line: Substring) -> (name: String, argument: String)? {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        guard trimmed.hasPrefix("--") else { return nil }
        let afterDashes = trimmed.dropFirst(2).drop { $0 == " " || $0 == "\t" }
        guard afterDashes.hasPrefix("drover:") else { return nil }
        let rest = afterDashes.dropFirst("drover:".count)
        let name = rest.prefix { !$0.isWhitespace }
        return (String(name), String(rest.dropFirst(name.count)).trimmingWhitespace())
    }

    static func isBlankOrComment(_ line: Substring) -> Bool {
        let trimmed = line.trimmingWhitespace()
        return trimmed.isEmpty || trimmed.hasPrefix("--")
    }

    /// `ae98aa32e0d2    -- "none" for the root` → `ae98aa32e0d2`
    static func stripTrailingComment(_ argument: String) -> String {
        guard let range = argument.range(of: "--") else { return argument.trimmingWhitespace() }
        return String(argument[..<range.lowerBound]).trimmingWhitespace()
    }

    static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }
    }

    private mutating func error(_ line: Int, _ message: String) {
        diagnostics.append(Diagnostic(.error, at: SourceLocation(file: file, line: line), message))
    }

    private mutating func warning(_ line: Int, _ message: String) {
        diagnostics.append(Diagnostic(.warning, at: SourceLocation(file: file, line: line), message))
    }
}
