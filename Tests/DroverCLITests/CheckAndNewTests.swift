import DroverCore
import DroverTestSupport
import Foundation
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

private func droverctl(_ arguments: String..., environment: [String: String]? = nil) throws -> Subprocess.Result {
    try Subprocess.run([try Subprocess.builtProduct("droverctl")] + arguments, environment: environment)
}

private func fixturesDirectory() throws -> String {
    try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).path
}

@Suite("droverctl check and new")
struct CheckAndNewTests {
    @Test("the example fleet.d and migrations are valid")
    func exampleIsValid() throws {
        let result = try droverctl("check", repositoryRoot + "/fleet.d")
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("valid: 5 databases; 3 revisions, head c27d5e0f4a93; 0 of 5 databases read; 0 errors, 0 warnings"), "\(result.output)")
        #expect(result.errors.contains("note: cannot read production ("), "databases that cannot be reached are notes: \(result.errors)")
        let offline = try droverctl("check", "--offline", repositoryRoot + "/fleet.d")
        #expect(
            offline.output.contains("valid: 5 databases; 3 revisions, head c27d5e0f4a93; 0 errors, 0 warnings") && offline.errors.isEmpty,
            "\(offline.output)\(offline.errors)")
    }

    static let fixtureNames = [
        "unknown-key", "duplicate-database", "undefined-variable", "unknown-parent", "concurrent-index-in-transaction", "two-heads", "lint-warnings",
    ]

    @Test("each broken fixture exits as expected and names file and line", arguments: fixtureNames)
    func fixture(_ name: String) throws {
        let directory = try fixturesDirectory() + "/" + name
        let expectation = try String(contentsOfFile: directory + "/expect", encoding: .utf8).split(separator: "\n").map(String.init)
        let result = try droverctl("check", directory + "/fleet.d")
        #expect(result.status == Int32(expectation[0]), "\(name): \(result.errors)")
        for line in expectation.dropFirst() {
            #expect(result.errors.contains(line), "\(name): stderr lacks '\(line)':\n\(result.errors)")
        }
    }

    @Test("--strict turns lint warnings into a failure; --json prints the report")
    func strictAndJSON() throws {
        let directory = try fixturesDirectory() + "/lint-warnings/fleet.d"
        #expect(try droverctl("check", directory, "--strict").status == 1)
        let json = try droverctl("check", directory, "--json")
        #expect(json.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        #expect(report?["valid"] as? Bool == true)
        // add-column-not-null, drop-column, create-index-not-concurrently, and the
        // index built while the ALTER TABLE's lock is held (lock-held-through-scan).
        #expect((report?["warnings"] as? [Any])?.count == 4)
    }

    @Test("bad usage exits 2")
    func badUsage() throws {
        #expect(try droverctl("check", "--no-such-option").status == 2)
        #expect(try droverctl("no-such-command").status == 2)
        #expect(try droverctl("new").status == 2)
    }

    @Test("new writes a revision on the head; with two heads it refuses unless --merge")
    func newRevision() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("drover-new-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for file in try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/migrations") {
            try FileManager.default.copyItem(atPath: repositoryRoot + "/migrations/" + file, toPath: scratch + "/" + file)
        }
        let created = try droverctl("new", "add owner to documents", "--migrations", scratch, "--json")
        #expect(created.status == 0, "\(created.errors)")
        let answer = try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: String]
        #expect(answer?["parent"] == "c27d5e0f4a93")
        #expect(answer?["file"]?.hasSuffix("_add_owner_to_documents.sql") == true)
        #expect(try droverctl("check", scratch).status == 0)

        // A second branch from the same parent makes two heads.
        try "-- drover:revision b4anch000001\n-- drover:parent c27d5e0f4a93\n-- drover:expand\nCREATE TABLE side (id int);\n".write(
            toFile: scratch + "/20200101T000000_side.sql", atomically: true, encoding: .utf8)
        let refused = try droverctl("new", "next", "--migrations", scratch)
        #expect(refused.status == 1)
        #expect(refused.errors.contains("droverctl new --merge"))
        let merged = try droverctl("new", "merge branches", "--migrations", scratch, "--merge")
        #expect(merged.status == 0, "\(merged.errors)")
        #expect(merged.output.contains("b4anch000001"))
        #expect(try droverctl("check", scratch).status == 0)
    }
}
