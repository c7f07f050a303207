import DroverTestSupport
import Foundation
import Testing

@testable import DroverCore

/// The parsers must answer arbitrary input with diagnostics, never a crash or a hang:
/// random bytes, and valid files mutated (bytes flipped, lines dropped, duplicated,
/// cut short, tokens that matter to the grammar inserted).
@Suite("Parser fuzzing")
struct ParserFuzzTests {
    static let manifestSeed = """
        fleet:
          name: demo
          migrations: ../m
          pipeline: [preview, production, tenants]
        defaults: {window: always, lock_timeout: 2s, retry: {attempts: 3}}
        windows:
          always: {always: true}
          n: {days: [sat], start: "02:00", duration: 3h, timezone: Europe/Berlin}
        databases:
          - {name: p, tier: preview, dsn: "host=${H:-x} dbname=p", labels: {a: b}}
          - {name: t, tier: tenants, dsn: "dbname=s", schema: acme, window: n}
        discover:
          - {tier: tenants, dsn: "dbname=postgres", query: "SELECT 1 AS name", template: {dsn: "dbname={name}"}, every: 10min}
        waves:
          tenants:
            - {name: c, select: {names: [t]}, soak: 30min}
            - {name: r, select: {labels: {a: b}, percent: 10}, failure_budget: 2%}
            - {name: z, select: {all: true}}
        """

    static let revisionSeed = """
        -- drover:revision 3f2a9c1e
        -- drover:parent none
        -- drover:message m
        -- drover:expand
        -- drover:no-transaction
        CREATE INDEX CONCURRENTLY i ON t (c); SELECT 'a;b', $x$ ; $x$;
        -- drover:backfill batch=10 pause=5ms
        UPDATE t SET c = 1 WHERE id IN (SELECT id FROM t LIMIT :batch); /* x; /* y */ */
        -- drover:contract
        ALTER TABLE t ALTER COLUMN c SET NOT NULL;
        -- drover:revert
        DROP INDEX i;
        """

    static let tokens = [
        "-- drover:", "-- drover:expand", "-- drover:no-transaction", "-- drover:parent a b", "$$", "$x$", "'", "\"", "/*", "*/", ";",
        "${", "${X:-", "}", "{", "[", "]", ":", "- ", "  ", "\t", "\r\n", "\u{0}", "é", "🙂", "&a", "*a", "!!binary", "---", "...", "%YAML 1.1",
        ":batch", "::", "E'\\'", "LIMIT :batch", "\n", "-", "#", "? ", "|", ">",
    ]

    @Test("the manifest parser never crashes on random or mutated input")
    func manifestFuzz() {
        let loader = ManifestLoader(environment: ["H": "db"])
        #expect(loader.load(files: [("/f/a.yaml", Self.manifestSeed)]).manifest != nil)
        let report = Fuzz.run(seed: 0xD20E_5EED, rounds: Fuzz.rounds(default: 3_000), seeds: [Self.manifestSeed], tokens: Self.tokens) { text in
            let (manifest, diagnostics) = loader.load(files: [("/f/a.yaml", text)])
            if manifest == nil {
                #expect(!diagnostics.errors.isEmpty, "rejected without a reason: \(text.debugDescription)")
                #expect(diagnostics.errors.allSatisfy { $0.location != nil }, "an error without a place: \(diagnostics)")
            }
        }
        #expect(report.slowest < .seconds(5), "\(report)")
    }

    @Test("the revision parser never crashes on random or mutated input")
    func revisionFuzz() {
        #expect(RevisionParser.parse(Self.revisionSeed, file: "r.sql").revision != nil)
        let report = Fuzz.run(seed: 0x5EED_0F5E, rounds: Fuzz.rounds(default: 5_000), seeds: [Self.revisionSeed], tokens: Self.tokens) { text in
            let (revision, diagnostics) = RevisionParser.parse(text, file: "r.sql")
            if revision == nil {
                #expect(!diagnostics.errors.isEmpty, "rejected without a reason: \(text.debugDescription)")
            }
            var linter = Linter()
            for section in revision?.sections.values.map({ $0 }) ?? [] { _ = linter.lint(section) }
            for statement in revision?.sections.values.flatMap(\.statements) ?? [] {
                _ = SQLRules.concurrentlyCreatedIndex(statement)
                _ = SQLSplitter.substitute("batch", with: "1", in: statement)
            }
        }
        #expect(report.slowest < .seconds(5), "\(report)")
    }

    static let alembicSeeds = [
        #"""
        """merge heads

        Revision ID: e8d2b7a91c04
        """
        from alembic import op

        revision = 'e8d2b7a91c04'
        down_revision = (
            '7be2d4c6a802',  # body
            "c4a9e1f05b03",
        )
        branch_labels = ('tags',)
        depends_on = None
        drover_phase = "contract"

        def upgrade():
            op.execute("ALTER TABLE documents DROP COLUMN legacy")
        """#,
        "[alembic]\nscript_location = %(here)s/alembic\nversion_locations = %(here)s/a %(here)s/b\n  %(here)s/c\n[loggers]\nkeys = root\n",
    ]

    @Test("the Alembic revision-file and ini readers never crash on random or mutated input")
    func alembicFuzz() {
        #expect((try? AlembicRevisionFile.parse(Self.alembicSeeds[0], file: "v.py").get())?.parents == ["7be2d4c6a802", "c4a9e1f05b03"])
        let tokens =
            Self.tokens + [#"""""#, "'''", "(", ")", ",", "=", "None", "revision", "down_revision", "drover_phase", "%(here)s", "%(", "[alembic]", "\\", "#"]
        let report = Fuzz.run(seed: 0xA1E3_B1C0, rounds: Fuzz.rounds(default: 5_000), seeds: Self.alembicSeeds, tokens: tokens) { text in
            switch AlembicRevisionFile.parse(text, file: "v.py") {
            case .success(let file): #expect(!file.id.isEmpty)
            case .failure(let diagnostic): #expect(diagnostic.location?.file == "v.py", "\(diagnostic)")
            }
            _ = try? AlembicIni.parse(text, file: "/p/alembic.ini")
        }
        #expect(report.slowest < .seconds(5), "\(report)")
    }

    @Test("revision templates written by `new` parse back")
    func templateRoundTrip() {
        var random = SeededGenerator(state: 42)
        let id = RevisionTemplate.newID(using: &random)
        #expect(id.count == 12)
        let (revision, diagnostics) = RevisionParser.parse(RevisionTemplate.render(id: id, parents: ["abc"], message: "add it"), file: "n.sql")
        #expect(diagnostics.errors.isEmpty, "\(diagnostics)")
        #expect(revision?.id == id && revision?.parents == ["abc"] && revision?.message == "add it")
        #expect(revision?.forwardPhases == [])
    }
}
