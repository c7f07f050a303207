import DroverTestSupport
import Foundation
import Testing

private func droverctl(_ arguments: String...) throws -> Subprocess.Result {
    try Subprocess.run([try Subprocess.builtProduct("droverctl")] + arguments)
}

/// A folder of revision files, removed afterwards.
private func repository(_ files: [String: String]) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-lint-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
    return directory
}

private let root = "-- drover:revision r1\n-- drover:parent none\n-- drover:expand\nCREATE TABLE t (id int, a int, b int);\n"

@Suite("droverctl check: lint formats, ignores, errors that do not hide the rest")
struct CheckLintTests {
    @Test("an error in one revision is reported and the revisions after it are still linted")
    func errorDoesNotHideLaterFindings() throws {
        let directory = try repository([
            "1.sql": root,
            "2.sql": "-- drover:revision r2\n-- drover:parent r1\n-- drover:expand\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n",
            "3.sql": "-- drover:revision r3\n-- drover:parent r2\n-- drover:expand\nALTER TABLE t DROP COLUMN b;\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try droverctl("check", directory)
        #expect(result.status == 1)
        #expect(result.errors.contains("2.sql:4: error:") && result.errors.contains("[not-in-transaction]"), "\(result.errors)")
        #expect(result.errors.contains("3.sql:4: warning:") && result.errors.contains("[drop-column]"), "\(result.errors)")
        #expect(!result.errors.contains("unknown parent"), "\(result.errors)")
    }

    @Test("--format github prints workflow annotations; --format json carries each finding's rule")
    func formats() throws {
        let directory = try repository([
            "1.sql": root,
            "2.sql": "-- drover:revision r2\n-- drover:parent r1\n-- drover:expand\nALTER TABLE t DROP COLUMN b;\nCOMMIT;\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let github = try droverctl("check", directory, "--format", "github")
        #expect(github.status == 1)
        let lines = github.output.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("::error file=\(directory)/2.sql,line=5,title=transaction-control::") }, "\(github.output)")
        #expect(lines.contains { $0.hasPrefix("::warning file=\(directory)/2.sql,line=4,title=drop-column::DROP COLUMN in expand") }, "\(github.output)")
        let json = try droverctl("check", directory, "--format", "json")
        let report = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        let warnings = report?["warnings"] as? [[String: Any]] ?? []
        #expect(warnings.map { $0["rule"] as? String } == ["drop-column"])
        #expect(try droverctl("check", directory, "--format", "yaml").status == 2)
    }

    @Test("lint-ignore exempts the next statement from the rules it names; it needs known rules and a reason")
    func lintIgnore() throws {
        let ignored =
            "-- drover:revision r2\n-- drover:parent r1\n-- drover:expand\n-- drover:lint-ignore drop-column b was never read by any release\nALTER TABLE t DROP COLUMN b;\nALTER TABLE t DROP COLUMN a;\n"
        let directory = try repository(["1.sql": root, "2.sql": ignored])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try droverctl("check", directory, "--strict")
        #expect(result.status == 1)
        #expect(!result.errors.contains("2.sql:5:"), "the ignored statement: \(result.errors)")
        #expect(result.errors.contains("2.sql:6: warning:"), "the next one is not exempt: \(result.errors)")

        for (line, message) in [
            ("-- drover:lint-ignore drop-colum reason", "unknown lint rule 'drop-colum' (did you mean 'drop-column'?)"),
            ("-- drover:lint-ignore drop-column", "needs a reason"),
            ("-- drover:lint-ignore transaction-control because", "cannot be ignored"),
        ] {
            let bad = try repository([
                "1.sql": root, "2.sql": "-- drover:revision r2\n-- drover:parent r1\n-- drover:expand\n\(line)\nALTER TABLE t DROP COLUMN b;\n",
            ])
            defer { try? FileManager.default.removeItem(atPath: bad) }
            let refused = try droverctl("check", bad)
            #expect(refused.status == 1 && refused.errors.contains("2.sql:4: error:") && refused.errors.contains(message), "\(line): \(refused.errors)")
        }
    }

    @Test("version-aware rules follow --postgres-version (REINDEX CONCURRENTLY exists from 12)")
    func postgresVersion() throws {
        let directory = try repository(["1.sql": root, "2.sql": "-- drover:revision r2\n-- drover:parent r1\n-- drover:contract\nREINDEX TABLE t;\n"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try droverctl("check", directory).errors.contains("[reindex-not-concurrently]"))
        #expect(try !droverctl("check", directory, "--postgres-version", "11").errors.contains("[reindex-not-concurrently]"))
    }
}
