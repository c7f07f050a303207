import DroverCore
import Foundation
import Testing

/// An Alembic project on disk: alembic.ini, env.py and versions/ files.
private struct ProjectFolder {
    let root: String

    init(ini: String = "[alembic]\nscript_location = %(here)s/migrations\n", files: [String: String]) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("drover-alembic-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root + "/migrations/versions", withIntermediateDirectories: true)
        try ini.write(toFile: root + "/alembic.ini", atomically: true, encoding: .utf8)
        try "# env".write(toFile: root + "/migrations/env.py", atomically: true, encoding: .utf8)
        for (name, text) in files { try text.write(toFile: root + "/migrations/versions/" + name, atomically: true, encoding: .utf8) }
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

private func revision(_ id: String, _ down: String, phase: String? = nil, extra: String = "") -> String {
    "\"\"\"\(id) message\n\"\"\"\nrevision = '\(id)'\ndown_revision = \(down)\n\(phase.map { "drover_phase = '\($0)'\n" } ?? "")\(extra)\ndef upgrade():\n    pass\n"
}

/// root ─┬─ body (expand) ──┬─ merge (contract)
///       └─ tags (expand) ──┘
private let branchAndMerge = [
    "1_root.py": revision("root", "None"),
    "2_body.py": revision("body", "'root'"),
    "2_tags.py": revision("tags", "'root'", extra: "branch_labels = ('tags',)\n"),
    "3_merge.py": revision("merge", "('body', 'tags')", phase: "contract"),
]

@Suite("Alembic projects as the revision repository")
struct AlembicProjectTests {
    @Test("alembic.ini, its folder or its script location all find the project; the graph has the branch and the merge")
    func locate() throws {
        let folder = try ProjectFolder(files: branchAndMerge)
        defer { folder.remove() }
        for path in [folder.root + "/alembic.ini", folder.root, folder.root + "/migrations"] {
            let (repository, diagnostics) = RevisionRepository.load(directory: path)
            let loaded = try #require(repository, "\(path): \(diagnostics)")
            #expect(loaded.alembic?.iniFile == folder.root + "/alembic.ini")
            #expect(loaded.graph.format == .alembic && loaded.graph.appliesInOrder)
            #expect(loaded.head == "merge")
            #expect(loaded.graph["merge"]?.parents == ["body", "tags"])
            #expect(loaded.graph["merge"]?.forwardPhases == [.contract])
            #expect(loaded.graph["body"]?.forwardPhases == [.expand])
            #expect(loaded.graph["body"]?.message == "body message")
        }
    }

    @Test("version_locations with %(here)s and a declared separator; recursive_version_locations")
    func versionLocations() throws {
        let folder = try ProjectFolder(
            ini:
                "[alembic]\nscript_location = migrations\nversion_path_separator = os\nversion_locations = %(here)s/migrations/versions:%(here)s/more\nrecursive_version_locations = true\n",
            files: ["1_root.py": revision("root", "None")])
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder.root + "/more/nested", withIntermediateDirectories: true)
        try revision("child", "'root'").write(toFile: folder.root + "/more/nested/2_child.py", atomically: true, encoding: .utf8)
        let (repository, diagnostics) = RevisionRepository.load(directory: folder.root + "/alembic.ini")
        #expect(repository?.graph.order == ["root", "child"], "\(diagnostics)")
    }

    @Test("errors name file and line: a bad ini, several heads (with Alembic's remedy), drover SQL mixed in, Alembic files in a SQL folder")
    func errors() throws {
        let badIni = try ProjectFolder(ini: "[alembic]\nscript_location = %(root)s/x\n", files: [:])
        defer { badIni.remove() }
        let iniError = RevisionRepository.load(directory: badIni.root).diagnostics.first
        #expect(iniError?.location == SourceLocation(file: badIni.root + "/alembic.ini", line: 2))
        #expect(iniError?.message.contains("%(root)s") == true)

        let heads = try ProjectFolder(files: ["1.py": revision("a", "None"), "2.py": revision("b", "'a'"), "3.py": revision("c", "'a'")])
        defer { heads.remove() }
        let headErrors = RevisionRepository.load(directory: heads.root).diagnostics.errors
        #expect(headErrors.count == 2 && headErrors.allSatisfy { $0.message.contains("several heads") && $0.message.contains("alembic merge heads") })

        let mixed = try ProjectFolder(files: ["1.py": revision("a", "None"), "2_extra.sql": "-- drover:revision x\n"])
        defer { mixed.remove() }
        let mixedError = RevisionRepository.load(directory: mixed.root).diagnostics.errors.first
        #expect(mixedError?.location?.file.hasSuffix("2_extra.sql") == true && mixedError?.message.contains("never mixed") == true)

        let sqlFolder = mixed.root + "/sql"
        try FileManager.default.createDirectory(atPath: sqlFolder, withIntermediateDirectories: true)
        try "-- drover:revision x\n-- drover:parent none\n-- drover:expand\nSELECT 1;\n".write(toFile: sqlFolder + "/1.sql", atomically: true, encoding: .utf8)
        try revision("a", "None").write(toFile: sqlFolder + "/2.py", atomically: true, encoding: .utf8)
        let sqlErrors = RevisionRepository.load(directory: sqlFolder).diagnostics.errors
        #expect(sqlErrors.count == 1 && sqlErrors[0].message.contains("never mixed"))

        let noIni = FileManager.default.temporaryDirectory.appendingPathComponent("drover-noini-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: noIni + "/versions", withIntermediateDirectories: true)
        try "".write(toFile: noIni + "/env.py", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: noIni) }
        #expect(RevisionRepository.load(directory: noIni).diagnostics.first?.message.contains("no alembic.ini") == true)
    }

    @Test("depends_on orders like a parent: the dependency is applied first")
    func dependsOn() throws {
        let folder = try ProjectFolder(files: [
            "1.py": revision("root", "None"), "2.py": revision("other", "None"),
            "3.py": revision("main", "'root'", extra: "depends_on = 'other'\n"),
        ])
        defer { folder.remove() }
        let graph = try #require(RevisionRepository.load(directory: folder.root).repository).graph
        #expect(graph.lineage(of: "main").map(\.id).sorted() == ["main", "other", "root"])
    }

    @Test("in order: a contract that is not released holds back what comes after it, not other branches")
    func planningInOrder() throws {
        let folder = try ProjectFolder(files: [
            "1.py": revision("root", "None"),
            "2.py": revision("drop", "'root'", phase: "contract"),
            "3.py": revision("after", "'drop'"),
            "4.py": revision("side", "'root'"),
            "5.py": revision("merge", "('after', 'side')"),
        ])
        defer { folder.remove() }
        let graph = try #require(RevisionRepository.load(directory: folder.root).repository).graph
        let rootDone = [TrackingRecord(revision: "root", phase: .expand, status: .applied)]
        let held = PhasePlanner.steps(graph: graph, records: rootDone, target: "merge", contractThrough: nil)
        #expect(held.map(\.description) == ["expand side"])
        let released = PhasePlanner.steps(graph: graph, records: rootDone, target: "merge", contractThrough: "merge")
        // Alembic's upgrade order (AlembicOrderTests checks it against alembic itself).
        #expect(released.map(\.description) == ["expand side", "contract drop", "expand after", "expand merge"])

        // Code of `drop` may run once root is applied (it only removes); `after` needs `drop` applied.
        let state = RevisionState(graph: graph, records: rootDone + [TrackingRecord(revision: "side", phase: .expand, status: .applied)])
        #expect(state.expanded == "side")
        #expect(!graph.isAncestor("after", of: state.expanded!))
        let contracted = RevisionState(
            graph: graph,
            records: rootDone + [
                TrackingRecord(revision: "drop", phase: .contract, status: .applied), TrackingRecord(revision: "after", phase: .expand, status: .applied),
            ])
        #expect(contracted.expanded == "after" && contracted.contracted == "after")
    }

    @Test("the Alembic version table is the truth: a hand-run upgrade counts, a downgrade un-counts, an unknown head is named")
    func truth() throws {
        let folder = try ProjectFolder(files: branchAndMerge)
        defer { folder.remove() }
        let graph = try #require(RevisionRepository.load(directory: folder.root).repository).graph
        let tracked = [TrackingRecord(revision: "root", phase: .expand, status: .applied), TrackingRecord(revision: "body", phase: .expand, status: .applied)]

        let byHand = AlembicTruth.records(graph: graph, tracking: tracked, heads: ["body", "tags"])
        #expect(RevisionState(graph: graph, records: byHand).expanded == "merge")
        #expect(byHand.contains { $0.revision == "tags" && $0.status == .stamped && $0.note == "found in alembic_version" })

        let downgraded = AlembicTruth.records(graph: graph, tracking: tracked, heads: ["root"])
        #expect(!downgraded.contains { $0.revision == "body" })
        #expect(RevisionState(graph: graph, records: downgraded).expanded == "root")

        let none = AlembicTruth.records(graph: graph, tracking: tracked, heads: nil)
        #expect(RevisionState(graph: graph, records: none).expanded == nil)

        let foreign = AlembicTruth.records(graph: graph, tracking: [], heads: ["ffff0000"])
        #expect(RevisionState(graph: graph, records: foreign).unknownRevisions == ["ffff0000"])
    }

    @Test("the scheduler leaves alone an Alembic database nobody adopted (SQL repository) and one at an unknown Alembic revision")
    func holds() throws {
        let yaml = """
            fleet: {name: t, migrations: m}
            windows: {always: {always: true}}
            defaults: {window: always}
            databases:
              - {name: preview, tier: preview, dsn: "host=p dbname=preview"}
            """
        let manifest = try #require(ManifestLoader(environment: [:]).load(files: [("/f/a.yaml", yaml)]).manifest)
        let now = Date(timeIntervalSince1970: 1_800_000_000)

        let sql = RevisionGraph.build([
            RevisionParser.parse("-- drover:revision r1\n-- drover:parent none\n-- drover:expand\nSELECT 1;\n", file: "1.sql").revision!
        ]).graph
        var native = Scheduler(manifest: manifest, graph: sql)
        native.observed("preview", ObservedDatabase(reachable: true, observedAt: now, alembicVersions: ["27c6a30d7c24"]))
        #expect(native.tick(now: now).isEmpty)
        #expect(native.alembicHold("preview")?.contains("droverctl adopt preview") == true)
        native.observed(
            "preview",
            ObservedDatabase(
                reachable: true, records: [TrackingRecord(revision: "r1", phase: .expand, status: .stamped)], observedAt: now, alembicVersions: ["27c6a30d7c24"]
            ))
        #expect(native.alembicHold("preview") == nil)

        let folder = try ProjectFolder(files: branchAndMerge)
        defer { folder.remove() }
        let alembic = try #require(RevisionRepository.load(directory: folder.root).repository).graph
        var scheduler = Scheduler(manifest: manifest, graph: alembic)
        scheduler.observed("preview", ObservedDatabase(reachable: true, observedAt: now, alembicVersions: ["ffff0000"]))
        #expect(scheduler.tick(now: now).isEmpty)
        #expect(scheduler.alembicHold("preview")?.contains("ffff0000") == true)
        scheduler.observed("preview", ObservedDatabase(reachable: true, observedAt: now, alembicVersions: nil))
        let actions = scheduler.tick(now: now)
        #expect(actions.contains { if case .start(_, let step) = $0 { step == PlannedStep(revision: "root", phase: .expand) } else { false } })
    }

    @Test("fleet.alembic and a database's alembic keys are read and checked")
    func manifestKeys() throws {
        let yaml = """
            fleet:
              name: t
              migrations: alembic.ini
              alembic: {command: [.venv/bin/alembic, --raiseerr], url_env: APP_DB_URL, url_x: db, url_scheme: postgresql+psycopg2}
            windows: {always: {always: true}}
            defaults: {window: always, alembic: {version_table: schema_versions}}
            databases:
              - {name: a, tier: preview, dsn: "host=p dbname=a", alembic: {version_table_schema: meta}}
            """
        let (loaded, diagnostics) = ManifestLoader(environment: [:]).load(files: [("/srv/fleet.d/a.yaml", yaml)])
        let manifest = try #require(loaded, "\(diagnostics)")
        #expect(manifest.fleet.alembic.command == ["/srv/fleet.d/.venv/bin/alembic", "--raiseerr"])
        #expect(manifest.fleet.alembic.urlVariable == "APP_DB_URL" && manifest.fleet.alembic.urlArgument == "db")
        #expect(manifest.fleet.alembic.urlScheme == "postgresql+psycopg2")
        #expect(manifest.databases[0].settings.alembicVersionTable == "schema_versions")
        #expect(manifest.databases[0].settings.alembicVersionTableSchema == "meta")

        let bad = """
            fleet: {name: t, migrations: m, alembic: {url_env: "not a name", url_scheme: "mysql://", comand: x}}
            """
        let errors = ManifestLoader(environment: [:]).load(files: [("/f/b.yaml", bad)]).diagnostics.errors
        #expect(errors.contains { $0.message.contains("url_env 'not a name'") && $0.location?.line == 1 })
        #expect(errors.contains { $0.message.contains("url_scheme 'mysql://'") })
        #expect(errors.contains { $0.message.contains("comand") && $0.message.contains("command") })
    }
}
