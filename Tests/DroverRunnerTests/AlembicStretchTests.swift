import DroverCore
import DroverPostgres
import DroverRunner
import DroverTestSupport
import Foundation
import Testing

private func linear(_ count: Int, failingAt failing: Int? = nil) -> [String: String] {
    var files: [String: String] = ["000_root.py": alembicRevision("s00", down: nil, "op.execute(\"CREATE TABLE t (id int)\")")]
    for index in 1..<count {
        let body = index == failing ? "op.execute(\"ALTER TABLE nowhere ADD COLUMN x int\")" : "op.execute(\"ALTER TABLE t ADD COLUMN c\(index) int\")"
        files[String(format: "%03d_step.py", index)] = alembicRevision(String(format: "s%02d", index), down: String(format: "s%02d", index - 1), body)
    }
    return files
}

/// env.py with a transaction per revision (Alembic's `transaction_per_migration`).
private let perRevisionEnv = AlembicProjectFixture.envText.replacingOccurrences(
    of: "context.configure(connection=connection, target_metadata=None)",
    with: "context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)")

@Suite("Stretches of Alembic revisions in one alembic upgrade (real alembic)")
struct AlembicStretchTests {
    @Test("a fresh database gets six revisions from one alembic process, each recorded with its own row and checksum")
    func oneProcess() async throws {
        let setup = try await AlembicRunnerTests.setup(linear(6))
        defer { setup.remove() }
        let outcomes = try await setup.runner().migrate(setup.fixture.session(), to: "s05", contractThrough: "s05")
        #expect(outcomes.map(\.revision) == ["s00", "s01", "s02", "s03", "s04", "s05"])
        let output = try #require(outcomes.first?.output)
        #expect(output.components(separatedBy: "Running upgrade").count - 1 == 6, "\(output)")
        #expect(outcomes.first?.appliedTogether == ["s01", "s02", "s03", "s04", "s05"])
        let rows = try await setup.fixture.sql("SELECT revision, status, checksum FROM drover.revisions ORDER BY revision").rows
        #expect(rows.map { $0[0] } == ["s00", "s01", "s02", "s03", "s04", "s05"])
        #expect(rows.allSatisfy { $0[1] == "applied" })
        #expect(rows.allSatisfy { row in row[2] == setup.repository.graph[row[0]!]?.sections[.expand]?.checksum })
        #expect(try await setup.versions() == ["s05"])
    }

    @Test("a failure in the middle: what Alembic committed (a transaction per revision) is recorded, the failing revision is named")
    func failureWithTransactionPerRevision() async throws {
        let setup = try await AlembicRunnerTests.setup(linear(6, failingAt: 3))
        defer { setup.remove() }
        try perRevisionEnv.write(toFile: setup.project.directory + "/alembic/env.py", atomically: true, encoding: .utf8)
        await #expect(throws: RunnerError.self) { try await setup.runner().migrate(setup.fixture.session(), to: "s05", contractThrough: "s05") }
        #expect(try await setup.versions() == ["s02"])
        let rows = try await setup.fixture.sql("SELECT revision, status FROM drover.revisions ORDER BY revision").rows
        #expect(rows.map { "\($0[0]!) \($0[1]!)" } == ["s00 applied", "s01 applied", "s02 applied", "s03 failed"])
    }

    @Test("a failure in the middle with one transaction for the run: nothing stayed, nothing is recorded applied, the failing revision is named")
    func failureInOneTransaction() async throws {
        let setup = try await AlembicRunnerTests.setup(linear(6, failingAt: 3))
        defer { setup.remove() }
        do {
            _ = try await setup.runner().migrate(setup.fixture.session(), to: "s05", contractThrough: "s05")
            Issue.record("expected a failure")
        } catch {
            guard case .alembicFailed(_, let revision, _, let reason, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(revision == "s03")
            #expect(reason.contains("UndefinedTable"), "\(reason)")
        }
        // The version table itself was created in the rolled-back transaction.
        #expect(try await setup.fixture.scalar("SELECT to_regclass('alembic_version') IS NULL") == "t")
        let rows = try await setup.fixture.sql("SELECT revision, status FROM drover.revisions ORDER BY revision").rows
        #expect(rows.map { "\($0[0]!) \($0[1]!)" } == ["s03 failed"])
    }

    @Test("a stretch stops at a change of phase and covers only what one alembic upgrade applies")
    func stretchBounds() {
        let graph = Self.graph([
            ("r0", nil, nil), ("a1", "r0", nil), ("b1", "r0", nil), ("m1", "(\"a1\", \"b1\")", nil), ("c1", "m1", "contract"), ("d1", "c1", nil),
        ])
        let steps = PhasePlanner.steps(graph: graph, records: [], target: "d1", contractThrough: "d1")
        #expect(steps.map(\.revision) == ["r0", "b1", "a1", "m1", "c1", "d1"])
        #expect(AlembicStretch.through(steps, graph: graph)! == ("m1", 4))  // up to the contract
        #expect(AlembicStretch.through(Array(steps.dropFirst(4)), graph: graph) == nil)  // the contract alone
        // From b1, `alembic upgrade a1` would not apply b1: only m1 covers both.
        #expect(AlembicStretch.through(Array(steps.dropFirst(1)), graph: graph)! == ("m1", 3))
        #expect(AlembicStretch.through([steps[1], steps[2]], graph: graph) == nil)
    }

    static func graph(_ revisions: [(String, String?, String?)]) -> RevisionGraph {
        let parsed = revisions.enumerated().map { index, spec in
            let text = alembicRevision(spec.0, down: spec.1, phase: spec.2, "pass")
            guard case .success(let file) = AlembicRevisionFile.parse(text, file: "/p/versions/\(index)_\(spec.0).py") else { fatalError(spec.0) }
            return file.revision(text: text)
        }
        return RevisionGraph.build(parsed, format: .alembic).graph
    }
}
