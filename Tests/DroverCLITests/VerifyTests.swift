import DroverTestSupport
import Foundation
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

private func droverctl(_ arguments: String...) async throws -> Subprocess.Result {
    try await Subprocess.run([try Subprocess.builtProduct("droverctl")] + arguments)
}

private func revisions(_ files: [String: String]) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-verify-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
    return directory
}

@Suite("droverctl verify on a scratch database")
struct VerifyTests {
    @Test("the example repository: every phase applied, the revert round trips identical; a second run is refused unless --reuse")
    func exampleRepository() async throws {
        let cluster = try await TestCluster.shared()
        let dsn = cluster.conninfo(database: try await cluster.createDatabase("verify"))
        let result = try await droverctl("verify", repositoryRoot + "/migrations", "--dsn", dsn)
        #expect(result.status == 0, "\(result.output)\(result.errors)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("9f3a6c2e8b15 expand: applied") })
        #expect(lines.contains { $0.hasPrefix("9f3a6c2e8b15 backfill: applied") })
        #expect(lines.contains { $0.hasPrefix("9f3a6c2e8b15 contract: applied (4 statements") })
        #expect(lines.contains("9f3a6c2e8b15 revert round trip: expand → revert → expand leaves the schema as it was"))
        #expect(lines.contains("c27d5e0f4a93 revert round trip: expand → revert → expand leaves the schema as it was"))
        #expect(lines.contains("4b7e1d2c9a01 revert round trip: expand → revert → expand leaves the schema as it was"))
        #expect(lines.last == "verified 3 revisions up to c27d5e0f4a93, 3 revert round trips: all good")

        let again = try await droverctl("verify", repositoryRoot + "/migrations", "--dsn", dsn)
        #expect(again.status == 1 && again.errors.contains("already holds drover's tracking table"), "\(again.errors)")
        let reused = try await droverctl("verify", repositoryRoot + "/migrations", "--dsn", dsn, "--reuse")
        #expect(reused.status == 0 && reused.output.contains("c27d5e0f4a93 all phases: already applied"), "\(reused.output)\(reused.errors)")
    }

    @Test("a revert that does not undo its expand fails, naming what differs")
    func revertThatDoesNotUndo() async throws {
        let directory = try revisions([
            "1.sql":
                "-- drover:revision r1\n-- drover:parent none\n-- drover:expand\nCREATE TABLE a (id int);\nCREATE TABLE b (id int);\n-- drover:revert\nDROP TABLE a;\n"
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try await TestCluster.shared()
        let result = try await droverctl("verify", directory, "--dsn", cluster.conninfo(database: try await cluster.createDatabase("verify")))
        #expect(result.status == 1)
        #expect(
            result.errors.contains("\(directory)/1.sql:6: the revert round trip of r1 changes the schema") && result.errors.contains("table b extra"),
            "\(result.errors)")
    }

    @Test("a failing statement names file:line and the SQLSTATE; --from, --to and bad usage")
    func failureAndRange() async throws {
        let directory = try revisions([
            "1.sql": "-- drover:revision r1\n-- drover:parent none\n-- drover:expand\nCREATE TABLE a (id int);\n",
            "2.sql": "-- drover:revision r2\n-- drover:parent r1\n-- drover:expand\nALTER TABLE a ADD COLUMN b int;\n",
            "3.sql": "-- drover:revision r3\n-- drover:parent r2\n-- drover:expand\nSELECT 1;\nALTER TABLE a ADD COLUMN b int;\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try await TestCluster.shared()
        let failed = try await droverctl("verify", directory, "--dsn", cluster.conninfo(database: try await cluster.createDatabase("verify")))
        #expect(failed.status == 1)
        #expect(failed.errors.contains("\(directory)/3.sql:5: expand of r3 failed: SQLSTATE 42701"), "\(failed.errors)")

        let upToTwo = try await droverctl("verify", directory, "--to", "r2", "--dsn", cluster.conninfo(database: try await cluster.createDatabase("verify")))
        #expect(upToTwo.status == 0 && upToTwo.output.contains("verified 2 revisions up to r2"), "\(upToTwo.output)\(upToTwo.errors)")

        // From a database that already has r1's schema (a restored dump): r1 is stamped, r2 applied.
        let restored = try await cluster.createDatabase("verify")
        _ = try await cluster.run("CREATE TABLE a (id int)", database: restored)
        let fromOne = try await droverctl("verify", directory, "--from", "r1", "--to", "r2", "--dsn", cluster.conninfo(database: restored))
        #expect(
            fromOne.status == 0 && fromOne.output.contains("r1 stamp:") && fromOne.output.contains("verified 1 revision up to r2"),
            "\(fromOne.output)\(fromOne.errors)")

        #expect(try await droverctl("verify", directory).status == 2)  // --dsn is required
        #expect(try await droverctl("verify", directory, "--to", "zz", "--dsn", "dbname=x").status == 2)
        #expect(try await droverctl("verify", directory, "--from", "r3", "--to", "r2", "--dsn", "dbname=x").status == 2)
    }
}
