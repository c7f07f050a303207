import DroverCore
import DroverRunner
import DroverTestSupport
import Foundation
import Testing

/// A revision that adds a column named after itself to `t`: the column order of `t`
/// is the order the revisions were applied in.
private func adding(_ id: String, down: String?, dependsOn: String? = nil) -> String {
    var text = alembicRevision(id, down: down, "op.execute(\"ALTER TABLE t ADD COLUMN c_\(id) int\")")
    if let dependsOn { text = text.replacingOccurrences(of: "depends_on = None", with: "depends_on = \"\(dependsOn)\"") }
    return text
}

/// Branch points and merges, a `depends_on`, and file names whose order is not the
/// graph's (Alembic falls back on the order it loads the files in).
private let branchyProject: [String: String] = [
    "m_root.py": alembicRevision("r0", down: nil, "op.execute(\"CREATE TABLE t (id int)\")"),
    "z_a1.py": adding("a1", down: "r0"),
    "c_b1.py": adding("b1", down: "r0"),
    "k_c1.py": adding("c1", down: "r0"),
    "b_m1.py": adding("m1", down: "(\"a1\", \"b1\")"),
    "y_d1.py": adding("d1", down: "m1"),
    "a_e1.py": adding("e1", down: "c1", dependsOn: "b1"),
    "q_m2.py": adding("m2", down: "(\"d1\", \"e1\")"),
    "d_f1.py": adding("f1", down: "r0"),
    "x_m3.py": adding("m3", down: "(\"f1\", \"m2\")"),
]

@Suite("Alembic's upgrade order (real alembic)")
struct AlembicOrderTests {
    @Test(
        "a database moved by drover and one moved by alembic upgrade come out identical, for the same targets in the same sequence",
        arguments: [["m3"], ["a1", "m3"], ["e1", "m2", "m3"]])
    func sameAsAlembic(_ targets: [String]) async throws {
        let setup = try await AlembicRunnerTests.setup(branchyProject)
        defer { setup.remove() }
        let session = setup.fixture.session()
        for target in targets {
            _ = try await setup.runner().migrate(session, to: target, contractThrough: target)
        }
        await session.close()

        let byAlembic = try await setup.fixture.cluster.createDatabase("alembic")
        let url = AlembicProjectFixture.url(setup.fixture.cluster, database: byAlembic)
        for target in targets {
            let upgrade = try await setup.project.run(["upgrade", target], url: url)
            try #require(upgrade.status == 0, "\(upgrade.errors)")
        }
        let columns = "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped"
        let drover = try await setup.fixture.scalar(columns)
        let alembic = try await setup.fixture.cluster.run(columns, database: byAlembic).scalar
        #expect(drover == alembic, "targets \(targets)")
        #expect(drover?.hasPrefix("id,") == true)
    }

    @Test("the order is Alembic's: the example of the issue (branches a1, b1 merged by m1) applies b1 before a1")
    func mergeOrder() throws {
        let texts = [
            // In file order a1 comes first; Alembic still applies b1 first.
            ("a_a1.py", alembicRevision("a1", down: "r0", "pass")), ("b_b1.py", alembicRevision("b1", down: "r0", "pass")),
            ("0_root.py", alembicRevision("r0", down: nil, "pass")), ("c_m1.py", alembicRevision("m1", down: "(\"a1\", \"b1\")", "pass")),
        ].sorted { $0.0 < $1.0 }
        let revisions = texts.map { name, text in
            guard case .success(let file) = AlembicRevisionFile.parse(text, file: "/p/versions/" + name) else { fatalError("\(name)") }
            return file.revision(text: text)
        }
        let graph = RevisionGraph.build(revisions, format: .alembic).graph
        #expect(graph.order == ["r0", "a1", "b1", "m1"])  // the file order drover used before
        #expect(PhasePlanner.steps(graph: graph, records: [], target: "m1", contractThrough: "m1").map(\.revision) == ["r0", "b1", "a1", "m1"])
        #expect(AlembicUpgradeOrder.order(graph, pending: ["r0", "a1", "b1", "m1"], target: "m1") == ["r0", "b1", "a1", "m1"])
        // Deterministic: the same answer whatever order the set is given in.
        for _ in 0..<20 {
            #expect(AlembicUpgradeOrder.order(graph, pending: Set(["m1", "b1", "a1", "r0"].shuffled()), target: "m1") == ["r0", "b1", "a1", "m1"])
        }
    }
}
