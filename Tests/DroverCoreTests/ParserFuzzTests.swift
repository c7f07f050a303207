@testable import DroverCore
import Testing

/// SplitMix64: a seeded generator, so a failing input can be reproduced.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

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

    static func mutate(_ text: String, _ random: inout SeededGenerator) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            guard !lines.isEmpty else { break }
            let index = Int.random(in: 0..<lines.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: lines.remove(at: index)
            case 1: lines.insert(lines[index], at: index)
            case 2:
                var scalars = Array(lines[index].unicodeScalars)
                if !scalars.isEmpty { scalars[Int.random(in: 0..<scalars.count, using: &random)] = Unicode.Scalar(UInt8.random(in: 1...127, using: &random)) }
                lines[index] = String(String.UnicodeScalarView(scalars))
            case 3:
                let cut = Int.random(in: 0...lines[index].count, using: &random)
                lines[index] = String(lines[index].prefix(cut))
            case 4:
                let position = Int.random(in: 0...lines[index].count, using: &random)
                let line = lines[index]
                lines[index] = String(line.prefix(position)) + tokens.randomElement(using: &random)! + String(line.dropFirst(position))
            default: lines.swapAt(index, Int.random(in: 0..<lines.count, using: &random))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func randomText(_ random: inout SeededGenerator) -> String {
        let length = Int.random(in: 0...400, using: &random)
        var text = ""
        for _ in 0..<length {
            if Bool.random(using: &random) {
                text += tokens.randomElement(using: &random)!
            } else {
                text.unicodeScalars.append(Unicode.Scalar(UInt8.random(in: 0...127, using: &random)))
            }
        }
        return text
    }

    @Test("the manifest parser never crashes on random or mutated input")
    func manifestFuzz() {
        var random = SeededGenerator(state: 0xD20E_5EED)
        let loader = ManifestLoader(environment: ["H": "db"])
        #expect(loader.load(files: [("/f/a.yaml", Self.manifestSeed)]).manifest != nil)
        for round in 0..<3_000 {
            let text = round % 4 == 0 ? Self.randomText(&random) : Self.mutate(Self.manifestSeed, &random)
            let (manifest, diagnostics) = loader.load(files: [("/f/a.yaml", text)])
            if manifest == nil {
                #expect(!diagnostics.errors.isEmpty, "rejected without a reason: \(text.debugDescription)")
                #expect(diagnostics.errors.allSatisfy { $0.location != nil }, "an error without a place: \(diagnostics)")
            }
        }
    }

    @Test("the revision parser never crashes on random or mutated input")
    func revisionFuzz() {
        var random = SeededGenerator(state: 0x5EED_0F5E)
        #expect(RevisionParser.parse(Self.revisionSeed, file: "r.sql").revision != nil)
        for round in 0..<5_000 {
            let text = round % 4 == 0 ? Self.randomText(&random) : Self.mutate(Self.revisionSeed, &random)
            let (revision, diagnostics) = RevisionParser.parse(text, file: "r.sql")
            if revision == nil {
                #expect(!diagnostics.errors.isEmpty, "rejected without a reason: \(text.debugDescription)")
            }
            if let revision {
                for section in revision.sections.values {
                    for statement in section.statements {
                        _ = SQLRules.lintExpand(statement)
                        _ = SQLRules.concurrentlyCreatedIndex(statement)
                        _ = SQLSplitter.substitute("batch", with: "1", in: statement)
                    }
                }
            }
        }
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
