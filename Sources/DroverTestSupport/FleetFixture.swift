import Foundation

/// A fleet on the test cluster: a preview and a production database, and schema
/// tenants in a shared database, with a manifest and migrations in a temp folder.
public struct FleetFixture: Sendable {
    public let cluster: TestCluster
    public let directory: String
    public let databases: [String: String]  // role → database name
    public var manifestDirectory: String { directory + "/fleet.d" }
    public var statePath: String { directory + "/state/state.db" }
    /// fleet.socket: in the fixture's folder, so that tests never share a socket.
    public var socketPath: String { directory + "/run/control.sock" }

    /// A fleet a test laid out itself: a manifest in `directory`/fleet.d with
    /// `state: ../state/state.db` and `socket: ../run/control.sock`.
    public init(cluster: TestCluster, directory: String, databases: [String: String]) {
        self.cluster = cluster
        self.directory = directory
        self.databases = databases
    }

    public static let revisions = [
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

    /// `cluster`: the shared one unless the test brings its own (`TestCluster.dedicated()`).
    public static func make(
        tenants: [String] = ["acme", "globex", "initech"], waves: String? = nil, extraRevisions: [String: String] = [:], on cluster: TestCluster? = nil
    ) async throws -> FleetFixture {
        let cluster = if let cluster { cluster } else { try await TestCluster.shared() }
        let preview = try await cluster.createDatabase("preview")
        let production = try await cluster.createDatabase("production")
        let shared = try await cluster.createDatabase("shared")
        try await cluster.run(tenants.map { "CREATE SCHEMA \($0);" }.joined(), database: shared)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-fleet-\(UUID().uuidString.prefix(8))").path
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
              socket: ../run/control.sock
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
        yaml +=
            waves ?? """
                waves:
                  tenants:
                    - {name: canary, select: {names: [tenant-\(tenants[0])]}, soak: 1s}
                    - {name: rest, select: {all: true}}
                """
        try yaml.write(toFile: directory + "/fleet.d/10-fleet.yaml", atomically: true, encoding: .utf8)
        return FleetFixture(cluster: cluster, directory: directory, databases: ["preview": preview, "production": production, "shared": shared])
    }

    public func scalar(_ sql: String, in role: String) async throws -> String? {
        try await cluster.run(sql, database: databases[role]!).scalar
    }

    /// Rewrites the fixture's manifest (10-fleet.yaml), for a test's own settings.
    public func editManifest(_ change: (String) -> String) throws {
        let path = manifestDirectory + "/10-fleet.yaml"
        try change(try String(contentsOfFile: path, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
