import DroverCore
import DroverTestSupport
import Foundation
import Testing

/// psql is the reference for where a statement ends: generated scripts go through
/// the server's own psql with `log_statement = all`, and the statements the server
/// logged must be the statements `SQLSplitter` cuts, one for one.
@Suite("SQL splitting agrees with psql")
struct SplitterAgainstPsqlTests {
    /// `DROVER_SPLIT_SCRIPTS` runs more (the note's figure comes from 5,000).
    static let scripts = ProcessInfo.processInfo.environment["DROVER_SPLIT_SCRIPTS"].flatMap(Int.init) ?? 300

    @Test("seeded scripts: the statements psql sends are the statements drover cuts")
    func generatedScripts() async throws {
        let cluster = try await TestCluster.dedicated()
        defer { cluster.destroy() }
        var generator = SeededGenerator(state: 0x5_97_1175)
        var compared = 0
        for number in 0..<Self.scripts {
            let script = ScriptGenerator.script(number: number, using: &generator)
            let path = "/tmp/drv-split-\(getpid())-\(number).sql"
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            defer { unlink(path) }
            let logStart = (try? FileManager.default.attributesOfItem(atPath: cluster.logFile)[.size] as? Int) ?? 0
            let result = try await Subprocess.run(
                [
                    cluster.psql, "-X", "-q", "-o", "/dev/null", "-h", cluster.socketDirectory, "-p", "\(cluster.port)", "-U", "postgres", "-d", "postgres",
                    "-f", path,
                ],
                environment: ["PGOPTIONS": "-c log_statement=all"])
            #expect(result.errors.isEmpty, "script \(number): psql reported \(result.errors)\n\(script)")
            // A comment after the last `;` goes to the server as a query of its own,
            // which does nothing; drover does not send it.
            let logged = try PostgresLog.statements(in: cluster.logFile, from: logStart).map(Self.normalised).filter { !$0.isEmpty }
            let cut = SQLSplitter.split(script).map { Self.normalised($0.text) }
            #expect(cut == logged, "script \(number) is cut differently from psql:\n\(script)")
            if cut != logged { return }
            compared += cut.count
        }
        print("splitter: \(Self.scripts) generated scripts, \(compared) statements, identical to psql")
    }

    /// Without leading blanks and comments (psql drops `--` ones, drover every
    /// kind) and without the final `;`.
    static func normalised(_ text: String) -> String {
        var rest = Substring(text)
        while true {
            rest = rest.drop { $0.isWhitespace }
            if rest.hasPrefix("--") {
                rest = rest.drop { $0 != "\n" }
            } else if rest.hasPrefix("/*") {
                var depth = 0
                var index = rest.startIndex
                repeat {
                    let pair = rest[index...].prefix(2)
                    if pair == "/*" {
                        depth += 1
                        index = rest.index(index, offsetBy: 2)
                    } else if pair == "*/" {
                        depth -= 1
                        index = rest.index(index, offsetBy: 2)
                    } else {
                        index = rest.index(after: index)
                    }
                } while depth > 0 && index < rest.endIndex
                rest = rest[index...]
            } else {
                break
            }
        }
        var text = String(rest)
        while let last = text.last, last.isWhitespace || last == ";" { text.removeLast() }
        return text
    }
}

/// The statements of a stderr server log: `LOG:  statement: …` records, whose
/// continuation lines the server starts with a tab.
enum PostgresLog {
    static func statements(in file: String, from offset: Int) throws -> [String] {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var statements: [String] = []
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("\t"), current != nil {
                current! += "\n" + line.dropFirst()
                continue
            }
            if let current { statements.append(current) }
            current = line.range(of: "LOG:  statement: ").map { String(line[$0.upperBound...]) }
        }
        if let current { statements.append(current) }
        return statements
    }
}

/// Valid PostgreSQL 15 scripts that mix every lexical trap: tagged and nested
/// dollar quotes, `E''` with backslash escapes, `U&''`, bit and hex strings,
/// quoted identifiers with `""`, `$` and `;`, nested block comments, `--` comments
/// with `;`, `BEGIN ATOMIC` bodies with `CASE … END`, parenthesised rule actions,
/// identifiers with `$` in them. No psql variables (`:name`) and no backslashes
/// outside strings: those are psql's, not SQL.
enum ScriptGenerator {
    static func script(number: Int, using generator: inout SeededGenerator) -> String {
        var statements: [String] = []
        for index in 0..<Int.random(in: 3...12, using: &generator) {
            let name = "\(number)_\(index)"
            switch Int.random(in: 0..<8, using: &generator) {
            case 0...2:
                statements.append("SELECT " + (0..<Int.random(in: 1...4, using: &generator)).map { _ in expression(&generator) }.joined(separator: ", "))
            case 3:
                statements.append("CREATE TEMP TABLE a$b$c_\(name) (x int" + gap(&generator) + ")")
                statements.append("INSERT INTO a$b$c_\(name) VALUES (" + expressionNumber(&generator) + ")")
            case 4:
                let create = ["CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", "create function"].randomElement(using: &generator)!
                statements.append(
                    "\(create) pg_temp.f_\(name)() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;" + gap(&generator)
                        + "SELECT CASE WHEN true THEN 2 ELSE 3 END;\nEND")
            case 5:
                statements.append("CREATE PROCEDURE pg_temp.p_\(name)() LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 'end;'; END")
            case 6:
                statements.append("CREATE TEMP TABLE rt_\(name) (x int)")
                statements.append("CREATE TEMP TABLE rl_\(name) (x int)")
                statements.append(
                    "CREATE RULE r_\(name) AS ON INSERT TO rt_\(name) DO ALSO (INSERT INTO rl_\(name) VALUES (NEW.x);" + gap(&generator)
                        + "INSERT INTO rl_\(name) VALUES (-NEW.x))")
            default:
                let tag = ["$$", "$body$", "$_x1$"].randomElement(using: &generator)!
                statements.append("DO \(tag) BEGIN PERFORM 1; PERFORM 'a;b'; END \(tag)")
            }
        }
        return statements.map { $0 + ";" + separator(&generator) }.joined()
    }

    static func expression(_ generator: inout SeededGenerator) -> String {
        switch Int.random(in: 0..<11, using: &generator) {
        case 0: "'" + text(&generator).replacingOccurrences(of: "'", with: "''") + "'"
        case 1: "E'" + text(&generator).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "\\\\'"
        case 2: "U&'d\\0061t;a'"
        case 3: "$$" + text(&generator).replacingOccurrences(of: "$", with: "") + "$$"
        case 4: "$q$ a $$ nested ; $x$ " + text(&generator).replacingOccurrences(of: "$", with: "") + " $q$"
        case 5: "(1" + gap(&generator) + "+ (2))"
        case 6: "1 AS \"q;\"\"$x " + String(Int.random(in: 0...9, using: &generator)) + "\""
        case 7: "x'1F', b'101'"
        case 8: "-- comment ; here\n 7"
        case 9: "e'\\n;'"
        default: expressionNumber(&generator)
        }
    }

    static func expressionNumber(_ generator: inout SeededGenerator) -> String { String(Int.random(in: 0...1000, using: &generator)) }

    /// String content: every character that ends or confuses a lexer.
    static func text(_ generator: inout SeededGenerator) -> String {
        let pieces = ["a", ";", "$", "$$", "\"", "'", "--", "/*", "*/", "\n", " ", "\\", "BEGIN", "END", "(", ")", "é"]
        return (0..<Int.random(in: 0...8, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
    }

    /// Blanks and comments between tokens.
    static func gap(_ generator: inout SeededGenerator) -> String {
        [" ", "\n", " /* ; /* nested ; */ */ ", " -- ; comment\n", "\t"].randomElement(using: &generator)!
    }

    static func separator(_ generator: inout SeededGenerator) -> String {
        [" ", "\n", "\n\n", " -- after; \n", " /* ; */ ", "\n/* between */\n"].randomElement(using: &generator)!
    }
}
