import DroverCore
import DroverDaemon
import DroverTestSupport
import Foundation
import Logging
import Testing

/// A fleet on the test cluster: a preview and a production database, and schema
/// tenants in a shared database, with a manifest and migrations in a temp folder.
struct DaemonFixture {
    let cluster: TestCluster
    let directory: String
    let databases: [String: String]  // role → database name
    var manifestDirectory: String { directory + "/fleet.d" }
    var statePath: String { directory + "/state/state.db" }

    static let revisions = [
        "0001_docs.sql": """
            -- drover:revision r1
            -- drover:parent none
            -- drover:expand
            CREATE TABLE docs (id int PRIMARY KEY, status text);
            INSERT INTO docs SELECT g, NULL FROM generate_series(1, 200) g;
            CREATE TABLE effects (note text);
            INSERT INTO effects VALUES ('r1 expand');
            """,
        "0002_status.sql": """
            -- drover:revision r2
            -- drover:parent r1
            -- drover:expand
            INSERT INTO effects VALUES ('r2 expand');
            -- drover:backfill batch=50
            UPDATE docs SET status = 'new' WHERE id IN (SELECT id FROM docs WHERE status IS NULL LIMIT :batch);
            -- drover:contract
            ALTER TABLE docs ALTER COLUMN status SET NOT NULL;
            """,
    ]

    static func make(tenants: [String] = ["acme", "globex", "initech"], waves: String? = nil, extraRevisions: [String: String] = [:]) async throws -> DaemonFixture {
        let cluster = try await TestCluster.shared()
        let preview = try await cluster.createDatabase("preview")
        let production = try await cluster.createDatabase("production")
        let shared = try await cluster.createDatabase("shared")
        try await cluster.run(tenants.map { "CREATE SCHEMA \($0);" }.joined(), database: shared)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-daemon-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory + "/fleet.d", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/migrations", withIntermediateDirectories: true)
        for (name, text) in revisions.merging(extraRevisions, uniquingKeysWith: { $1 }) {
            try text.write(toFile: directory + "/migrations/" + name, atomically: true, encoding: .utf8)
        }
        func dsn(_ database: String) -> String { cluster.conninfo(database: database) }
        var yaml = """
            fleet:
              name: test
              migrations: ../migrations
              state: ../state/state.db
            windows:
              always: {always: true}
            defaults:
              window: always
              lock_timeout: 500ms
              retry: {attempts: 2, min_backoff: 100ms, max_backoff: 200ms}
            databases:
              - {name: preview, tier: preview, dsn: "\(dsn(preview))"}
              - {name: production, tier: production, dsn: "\(dsn(production))"}

            """
        for tenant in tenants {
            yaml += "  - {name: tenant-\(tenant), tier: tenants, dsn: \"\(dsn(shared))\", schema: \(tenant)}\n"
        }
        yaml += waves ?? """
            waves:
              tenants:
                - {name: canary, select: {names: [tenant-\(tenants[0])]}, soak: 1s}
                - {name: rest, select: {all: true}}
            """
        try yaml.write(toFile: directory + "/fleet.d/10-fleet.yaml", atomically: true, encoding: .utf8)
        return DaemonFixture(cluster: cluster, directory: directory, databases: ["preview": preview, "production": production, "shared": shared])
    }

    func start() async throws -> (Fleet, Task<Void, Never>) {
        let definition = try FleetDefinition.load(manifestDirectory: manifestDirectory).get()
        let store = try StateStore(path: definition.statePath())
        var logger = Logger(label: "droverd-test")
        logger.logLevel = .warning
        let fleet = try await Fleet(definition: definition, store: store, logger: logger, pollInterval: .milliseconds(200), tickInterval: .milliseconds(50))
        let task = Task { await fleet.run(grace: .seconds(5)) }
        return (fleet, task)
    }

    func scalar(_ sql: String, in role: String) async throws -> String? {
        try await cluster.run(sql, database: databases[role]!).scalar
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Polls the fleet's status until `condition` holds (at most `timeout`).
func waitFor(_ fleet: Fleet, timeout: Duration = .seconds(30), _ what: String, _ condition: (FleetStatus) -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition(await fleet.status()) { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    let status = await fleet.status()
    Issue.record("timed out waiting for \(what); status: \(status.databases.map { "\($0.name)=\($0.state.rawValue)/\($0.expanded ?? "-")/\($0.contracted ?? "-") \($0.error ?? "")" })")
    throw CancellationError()
}
