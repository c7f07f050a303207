import Testing

@testable import DroverCore

private func parse(_ text: String, file: String = "m/r.sql") -> (Revision?, [Diagnostic]) {
    RevisionParser.parse(text, file: file)
}

private let example = """
    -- drover:revision 3f2a9c1e
    -- drover:parent ae98aa32e0d2           -- "none" for the root; two ids for a merge revision
    -- drover:message add new_field to documents

    -- drover:expand
    ALTER TABLE documents ADD COLUMN new_field text;

    -- drover:backfill batch=1000 pause=50ms
    UPDATE documents SET new_field = 'default'
     WHERE id IN (SELECT id FROM documents WHERE new_field IS NULL LIMIT :batch);

    -- drover:contract
    ALTER TABLE documents ALTER COLUMN new_field SET NOT NULL;

    -- drover:revert
    ALTER TABLE documents DROP COLUMN new_field;
    """

@Suite("Revision files")
struct RevisionParserTests {
    @Test("the documented example (docs/revisions.md) parses into its four sections")
    func specExample() throws {
        let (revision, diagnostics) = parse(example)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let parsed = try #require(revision)
        #expect(parsed.id == "3f2a9c1e")
        #expect(parsed.parents == ["ae98aa32e0d2"])
        #expect(parsed.message == "add new_field to documents")
        #expect(parsed.forwardPhases == [.expand, .backfill, .contract])
        let backfill = try #require(parsed.section(.backfill))
        #expect(backfill.backfill == BackfillOptions(batch: 1000, pause: .milliseconds(50)))
        #expect(backfill.statements.count == 1)
        #expect(backfill.statements[0].line == 9)
        #expect(SQLSplitter.substitute("batch", with: "1000", in: backfill.statements[0]).hasSuffix("LIMIT 1000)"))
        #expect(parsed.section(.contract)?.location.line == 12)
        #expect(parsed.sections.values.allSatisfy { $0.checksum.count == 64 })
    }

    @Test("checksums ignore trailing blanks and line endings, not content")
    func checksums() throws {
        let (original, _) = parse(example)
        let (reformatted, _) = parse(example.replacingOccurrences(of: "\n", with: "  \r\n") + "\n\n")
        let (changed, _) = parse(example.replacingOccurrences(of: "'default'", with: "'other'"))
        #expect(original?.sections[.backfill]?.checksum == reformatted?.sections[.backfill]?.checksum)
        #expect(original?.sections[.expand]?.checksum == reformatted?.sections[.expand]?.checksum)
        #expect(original?.sections[.backfill]?.checksum != changed?.sections[.backfill]?.checksum)
        #expect(original?.sections[.expand]?.checksum == changed?.sections[.expand]?.checksum)
    }

    @Test("root, merge and no-transaction sections")
    func rootMergeNoTransaction() throws {
        let (root, _) = parse("-- drover:revision a1\n-- drover:parent none\n-- drover:expand\nCREATE TABLE t (id int);\n")
        #expect(root?.parents == [])
        let (merge, _) = parse("-- drover:revision m1\n-- drover:parent a1 b2\n-- drover:expand\nSELECT 1;\n")
        #expect(merge?.parents == ["a1", "b2"])
        let (concurrent, diagnostics) = parse(
            """
            -- drover:revision c1
            -- drover:parent none
            -- drover:expand
            -- drover:no-transaction
            CREATE INDEX CONCURRENTLY t_idx ON t (id);
            CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Odd Name" ON s.t (id);
            """)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let section = try #require(concurrent?.section(.expand))
        #expect(section.noTransaction)
        #expect(section.statements.map { SQLRules.concurrentlyCreatedIndex($0)?.name } == ["t_idx", "Odd Name"])
    }

    /// Every revision-file error message, with its line.
    static let errorCases: [(name: String, text: String, message: String, line: Int)] = [
        ("missing revision", "-- drover:parent none\n-- drover:expand\nSELECT 1;", "missing '-- drover:revision <id>' header", 1),
        (
            "missing parent", "-- drover:revision a1\n-- drover:expand\nSELECT 1;",
            "missing '-- drover:parent <id>' header ('-- drover:parent none' for the root revision)", 1
        ),
        ("empty revision id", "-- drover:revision\n-- drover:parent none\n-- drover:expand\nSELECT 1;", "'-- drover:revision' needs an id", 1),
        ("bad revision id", "-- drover:revision a/b\n-- drover:parent none\n-- drover:expand\nSELECT 1;", "revision id 'a/b' may only hold", 1),
        (
            "revision twice", "-- drover:revision a1\n-- drover:revision a2\n-- drover:parent none\n-- drover:expand\nSELECT 1;",
            "revision id given twice (first on line 1)", 2
        ),
        ("parent twice", "-- drover:revision a1\n-- drover:parent x\n-- drover:parent y\n-- drover:expand\nSELECT 1;", "parent given twice", 3),
        (
            "unknown directive", "-- drover:revision a1\n-- drover:parent none\n-- drover:expnd\nSELECT 1;",
            "unknown directive '-- drover:expnd' (did you mean 'expand'?)", 3
        ),
        ("SQL outside a section", "-- drover:revision a1\n-- drover:parent none\nSELECT 1;\n-- drover:expand\nSELECT 2;", "SQL outside a section", 3),
        (
            "section twice", "-- drover:revision a1\n-- drover:parent none\n-- drover:expand\nSELECT 1;\n-- drover:expand\nSELECT 2;",
            "section 'expand' appears twice", 5
        ),
        (
            "header after section", "-- drover:revision a1\n-- drover:parent none\n-- drover:expand\nSELECT 1;\n-- drover:message late",
            "'-- drover:message' must come before the first section", 5
        ),
        ("no section", "-- drover:revision a1\n-- drover:parent none\n", "no section", 1),
        ("options on expand", "-- drover:revision a1\n-- drover:parent none\n-- drover:expand batch=5\nSELECT 1;", "'-- drover:expand' takes no options", 3),
        (
            "unknown backfill option", "-- drover:revision a1\n-- drover:parent none\n-- drover:backfill batchsize=5\nSELECT 1 LIMIT :batch;",
            "unknown backfill option 'batchsize' (did you mean 'batch'?)", 3
        ),
        (
            "bad batch", "-- drover:revision a1\n-- drover:parent none\n-- drover:backfill batch=0\nSELECT 1 LIMIT :batch;",
            "batch=0 must be a positive whole number", 3
        ),
        (
            "bad pause", "-- drover:revision a1\n-- drover:parent none\n-- drover:backfill pause=5\nSELECT 1 LIMIT :batch;",
            "pause=5: duration '5' has no unit", 3
        ),
        (
            "no-transaction not first", "-- drover:revision a1\n-- drover:parent none\n-- drover:expand\nSELECT 1;\n-- drover:no-transaction\nSELECT 2;",
            "'-- drover:no-transaction' must be the first line of its section", 5
        ),
        (
            "no-transaction outside section", "-- drover:revision a1\n-- drover:parent none\n-- drover:no-transaction\n-- drover:expand\nSELECT 1;",
            "'-- drover:no-transaction' must be the first line of a section", 3
        ),
        (
            "no-transaction backfill", "-- drover:revision a1\n-- drover:parent none\n-- drover:backfill\n-- drover:no-transaction\nSELECT 1 LIMIT :batch;",
            "does not apply to it", 3
        ),
        (
            "CIC in a transaction", "-- drover:revision a1\n-- drover:parent none\n-- drover:expand\nSELECT 1;\nCREATE INDEX CONCURRENTLY i ON t (c);",
            "PostgreSQL refuses this inside a transaction block", 5
        ),
        (
            "parent without id", "-- drover:revision a1\n-- drover:parent\n-- drover:expand\nSELECT 1;",
            "'-- drover:parent' needs the parent id, or 'none' for the root revision", 2
        ),
        ("bad parent id", "-- drover:revision a1\n-- drover:parent a/b\n-- drover:expand\nSELECT 1;", "'a/b' is not a valid parent id", 2),
        ("none among parents", "-- drover:revision a1\n-- drover:parent none x1\n-- drover:expand\nSELECT 1;", "'none' is not a valid parent id", 2),
        ("parent listed twice", "-- drover:revision a1\n-- drover:parent x1 x1\n-- drover:expand\nSELECT 1;", "parent listed twice on one line", 2),
        (
            "message twice", "-- drover:revision a1\n-- drover:parent none\n-- drover:message a\n-- drover:message b\n-- drover:expand\nSELECT 1;",
            "message given twice", 4
        ),
        (
            "option without value", "-- drover:revision a1\n-- drover:parent none\n-- drover:backfill batch\nSELECT 1 LIMIT :batch;",
            "backfill option 'batch' must be written key=value", 3
        ),
        ("self parent", "-- drover:revision a1\n-- drover:parent a1\n-- drover:expand\nSELECT 1;", "lists itself as its parent", 2),
    ]

    @Test("every revision-file error names file and line", arguments: errorCases.indices)
    func errorMessages(_ index: Int) {
        let testCase = Self.errorCases[index]
        let (revision, diagnostics) = parse(testCase.text)
        #expect(revision == nil, "\(testCase.name)")
        let match = diagnostics.errors.first { $0.message.contains(testCase.message) }
        #expect(match != nil, "\(testCase.name): \(diagnostics)")
        #expect(match?.location == SourceLocation(file: "m/r.sql", line: testCase.line), "\(testCase.name): \(String(describing: match))")
    }

    @Test("an unreadable revision folder is an error")
    func missingFolder() {
        #expect(
            RevisionRepository.load(directory: "/nonexistent/migrations").diagnostics.first?.message.hasPrefix(
                "cannot read revision directory /nonexistent/migrations") == true)
    }

    @Test("a backfill without :batch is a warning")
    func backfillWithoutBatch() {
        let (revision, diagnostics) = parse("-- drover:revision a1\n-- drover:parent none\n-- drover:backfill\nUPDATE t SET c = 1 WHERE c IS NULL;")
        #expect(revision != nil)
        #expect(diagnostics.warnings.first?.message.contains(":batch") == true)
    }
}

@Suite("Revision graph")
struct RevisionGraphTests {
    private func revision(_ id: String, _ parents: [String], file: String? = nil) -> Revision {
        let section = Section(
            phase: .expand, location: SourceLocation(file: file ?? "\(id).sql", line: 3), noTransaction: false, backfill: nil, body: "SELECT 1",
            statements: SQLSplitter.split("SELECT 1"), checksum: "x")
        return Revision(id: id, parents: parents, message: "", location: SourceLocation(file: file ?? "\(id).sql", line: 1), sections: [.expand: section])
    }

    @Test("a branch and its merge order deterministically, with one head")
    func mergeOrder() {
        let (graph, diagnostics) = RevisionGraph.build([
            revision("d", ["b", "c"], file: "4.sql"), revision("a", [], file: "1.sql"),
            revision("c", ["a"], file: "3.sql"), revision("b", ["a"], file: "2.sql"),
        ])
        #expect(diagnostics.isEmpty)
        #expect(graph.order == ["a", "b", "c", "d"])
        #expect(graph.head == "d")
        #expect(graph.lineage(of: "c").map(\.id) == ["a", "c"])
        #expect(graph.isAncestor("b", of: "d") && !graph.isAncestor("b", of: "c"))
    }

    @Test("duplicate ids, unknown parents, cycles and several heads are errors")
    func graphErrors() {
        let duplicate = RevisionGraph.build([revision("a", []), revision("a", [], file: "other.sql")]).diagnostics
        #expect(duplicate.first?.message == "duplicate revision id a (also defined at a.sql:1)")
        #expect(duplicate.first?.location?.file == "other.sql")

        let unknown = RevisionGraph.build([revision("a", []), revision("b", ["ax"])]).diagnostics
        #expect(unknown.first?.message == "revision b names unknown parent ax (did you mean 'a'?)")

        let cycle = RevisionGraph.build([revision("a", []), revision("b", ["c"]), revision("c", ["b"])]).diagnostics
        #expect(cycle.count == 2 && cycle.allSatisfy { $0.message.contains("parent cycle") })

        let heads = RevisionGraph.build([revision("a", []), revision("b", ["a"]), revision("c", ["a"])]).diagnostics
        #expect(heads.count == 2)
        #expect(heads.first?.message.contains("add a merge revision with '-- drover:parent b c'") == true)
    }

    @Test("revision ids resolve by unambiguous prefix")
    func prefixes() {
        let (graph, _) = RevisionGraph.build([revision("abc1", []), revision("abd2", ["abc1"])])
        #expect(graph.resolve("abc") == .success("abc1"))
        #expect(graph.resolve("ab") == .failure(.ambiguous("ab", matches: ["abc1", "abd2"])))
        if case .failure(.unknown) = graph.resolve("zz") {} else { Issue.record("expected unknown") }
    }

    @Test("planner: expands in order up to the target, contracts only up to the release; cursors follow")
    func planner() {
        func full(_ id: String, _ parents: [String]) -> Revision {
            let text =
                "-- drover:revision \(id)\n-- drover:parent \(parents.isEmpty ? "none" : parents.joined(separator: " "))\n-- drover:expand\nSELECT 1;\n-- drover:backfill\nSELECT 1 LIMIT :batch;\n-- drover:contract\nSELECT 2;\n"
            return RevisionParser.parse(text, file: "\(id).sql").revision!
        }
        let (graph, _) = RevisionGraph.build([full("r1", []), full("r2", ["r1"]), full("r3", ["r2"])])
        var records = [TrackingRecord(revision: "r1", phase: .expand, status: .applied), TrackingRecord(revision: "r1", phase: .backfill, status: .applied)]
        let steps = PhasePlanner.steps(graph: graph, records: records, target: "r3", contractThrough: "r1")
        #expect(steps.map(\.description) == ["expand r2", "backfill r2", "expand r3", "backfill r3", "contract r1"])
        #expect(PhasePlanner.steps(graph: graph, records: records, target: "r2", contractThrough: nil).map(\.description) == ["expand r2", "backfill r2"])

        var state = RevisionState(graph: graph, records: records)
        #expect(state.expanded == "r1" && state.contracted == nil)
        records.append(TrackingRecord(revision: "r1", phase: .contract, status: .stamped))
        records.append(TrackingRecord(revision: "r2", phase: .expand, status: .failed))
        state = RevisionState(graph: graph, records: records)
        #expect(state.expanded == "r1" && state.contracted == "r1")
        #expect(state.unfinished.map(\.revision) == ["r2"])
    }
}

@Suite("SQL splitting and lint")
struct SQLTests {
    @Test("semicolons in quotes, dollar quotes and comments do not split; lines are counted")
    func splitting() {
        let sql = """
            SELECT 'a;b', "c;d" FROM t; -- trailing; comment
            /* block; /* nested; */ still */ DO $fn$ BEGIN PERFORM 1; END $fn$;

            INSERT INTO t VALUES (E'it\\'s;', $1)
            """
        let statements = SQLSplitter.split(sql, firstLine: 10)
        #expect(statements.map(\.line) == [10, 11, 13])
        #expect(statements[0].text == "SELECT 'a;b', \"c;d\" FROM t")
        #expect(statements[1].text.hasPrefix("DO $fn$"))
        #expect(statements[2].code.contains("'      '") || statements[2].code.contains("E'"))
        #expect(!statements[1].code.contains("PERFORM"))
    }

    @Test("cut where psql cuts: BEGIN ATOMIC bodies, parenthesised rule actions, $ inside identifiers")
    func psqlBoundaries() {
        let atomic = "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM items; END;\nSELECT 2;"
        #expect(
            SQLSplitter.split(atomic).map(\.text) == [
                "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM items; END", "SELECT 2",
            ])
        let caseInside = "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 1; END; SELECT 3;"
        #expect(SQLSplitter.split(caseInside).count == 2)
        let rule = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (NEW.x); INSERT INTO log VALUES (-NEW.x));"
        #expect(SQLSplitter.split(rule).count == 1)
        let dollar = "CREATE TABLE a$b$c (x int); CREATE TABLE z (x int);"
        #expect(SQLSplitter.split(dollar).map(\.text) == ["CREATE TABLE a$b$c (x int)", "CREATE TABLE z (x int)"])
        // BEGIN as a statement of its own is transaction control, not a body.
        #expect(SQLSplitter.split("BEGIN; SELECT 1; COMMIT;").count == 3)
        #expect(SQLSplitter.split("SELECT U&'d\\0061t;', E'it\\'s;', $q$ ; $$ ; $q$; SELECT 2").count == 2)
    }

    @Test("psql meta-commands and COPY FROM STDIN are errors with file and line")
    func psqlOnlyInput() {
        let (revision, diagnostics) = parse("-- drover:revision a1\n-- drover:parent none\n-- drover:expand\nSELECT 1;\n\\i other.sql\nCOPY t FROM stdin;\n")
        #expect(revision == nil)
        #expect(diagnostics.errors.contains { $0.location?.line == 5 && $0.message.contains("'\\i other.sql'") && $0.message.contains("[psql-meta-command]") })
        #expect(diagnostics.errors.contains { $0.location?.line == 6 && $0.rule == "copy-from-stdin" })
    }

    @Test(":batch is substituted outside strings and casts only")
    func batchSubstitution() {
        let statement = SQLSplitter.split("SELECT ':batch', x::batch_type, y LIMIT :batch -- :batch")[0]
        #expect(SQLSplitter.substitute("batch", with: "250", in: statement) == "SELECT ':batch', x::batch_type, y LIMIT 250 -- :batch")
    }

    static let lintCases: [(sql: String, rule: LintRule?)] = [
        ("ALTER TABLE t ADD COLUMN c int NOT NULL", .addColumnNotNullWithoutDefault),
        ("ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0", nil),
        ("ALTER TABLE t ADD COLUMN c int", nil),
        ("ALTER TABLE t DROP COLUMN c", .dropColumn),
        ("ALTER TABLE t DROP c", .dropColumn),
        ("ALTER TABLE t DROP CONSTRAINT c_check", nil),
        ("DROP TABLE t", .dropTable),
        ("ALTER TABLE t RENAME COLUMN a TO b", .renameColumn),
        ("ALTER TABLE t RENAME TO u", .renameTable),
        ("CREATE INDEX i ON t (c)", .createIndexWithoutConcurrently),
        ("create unique index i on t (c)", .createIndexWithoutConcurrently),
        ("CREATE INDEX CONCURRENTLY i ON t (c)", nil),
        ("ALTER TABLE t ALTER COLUMN c TYPE bigint", .alterColumnType),
        ("ALTER TABLE t ALTER c SET DATA TYPE bigint", .alterColumnType),
        ("ALTER TABLE t ALTER COLUMN c SET NOT NULL", .setNotNull),
        ("ALTER TABLE t ALTER COLUMN c DROP NOT NULL", nil),
        ("ALTER TABLE t ADD CONSTRAINT c CHECK (x > 0)", .addConstraintWithoutNotValid),
        ("ALTER TABLE t ADD CONSTRAINT c CHECK (x > 0) NOT VALID", nil),
        ("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id)", .addConstraintWithoutNotValid),
        ("ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)", .addUniqueConstraintWithoutIndex),
        ("ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX u_idx", nil),
        ("UPDATE t SET note = 'DROP COLUMN c'", nil),
        ("-- DROP TABLE t\nSELECT 1", nil),
    ]

    @Test("expand lint rules", arguments: lintCases.indices)
    func lint(_ index: Int) {
        let testCase = Self.lintCases[index]
        let findings = LintHarness.findings(testCase.sql, noTransaction: testCase.sql.contains("CONCURRENTLY"))
        #expect(findings.map(\.rule) == (testCase.rule.map { [$0] } ?? []), "\(testCase.sql)")
    }

    @Test("lint names the line of the offending clause and the safer form")
    func lintLine() {
        let finding = LintHarness.findings("ALTER TABLE t\n  ADD COLUMN a int,\n  ALTER COLUMN b SET NOT NULL").first
        #expect(finding?.line == 6)  // the section's body starts on line 4 of the rendered file
        #expect(finding?.message.contains("ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c; ALTER COLUMN col SET NOT NULL") == true)
    }
}
