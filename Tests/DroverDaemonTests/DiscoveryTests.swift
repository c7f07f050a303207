import DroverCore
import DroverDaemon
import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

@Suite("Discovery")
struct DiscoveryTests {
    @Test("discovered tenants join their wave, newcomers are picked up mid-rollout, vanished ones show as gone")
    func discoverSchemaTenants() async throws {
        let fixture = try await DaemonFixture.make(tenants: ["acme"], waves: "waves:\n  tenants:\n    - {name: all, select: {all: true}}\n")
        defer { fixture.remove() }
        let shared = fixture.databases["shared"]!
        _ = try await fixture.cluster.run("CREATE SCHEMA found_one; CREATE SCHEMA found_two;", database: shared)
        let discover = """
            discover:
              - tier: tenants
                dsn: "\(fixture.cluster.conninfo(database: shared))"
                query: "SELECT nspname AS name, nspname AS schema_name FROM pg_namespace WHERE nspname LIKE 'found\\\\_%'"
                template: {dsn: "\(fixture.cluster.conninfo(database: shared))", schema: "{schema_name}", labels: {source: discovery}}
                every: 1s
            """
        try discover.write(toFile: fixture.manifestDirectory + "/30-discover.yaml", atomically: true, encoding: .utf8)
        let check = try await Subprocess.run([try Subprocess.builtProduct("droverctl"), "check", fixture.manifestDirectory])
        #expect(check.status == 0, "\(check.errors)")
        let (fleet, loop) = try await fixture.start()
        try await fleet.deploy("r1", tier: "tenants")
        try await waitFor(fleet, "discovered tenants expanded") { status in
            ["found_one", "found_two", "tenant-acme"].allSatisfy { status.database($0)?.expanded == "r1" }
        }
        #expect(await fleet.status().database("found_one")?.schema == "found_one")

        _ = try await fixture.cluster.run("CREATE SCHEMA found_three;", database: shared)
        try await waitFor(fleet, "a newcomer joins and moves") { $0.database("found_three")?.expanded == "r1" }

        _ = try await fixture.cluster.run("DROP SCHEMA found_two CASCADE;", database: shared)
        try await waitFor(fleet, "a vanished tenant shows as gone") { $0.database("found_two")?.state == .gone }
        #expect(await fleet.status().database("found_two")?.expanded == "r1")
        await fleet.stop()
        await loop.value
    }

    @Test("discovered names are quoted into the conninfo, never spliced raw")
    func quoting() throws {
        let block = DiscoverSpec(
            tier: "tenants", dsn: "dbname=postgres", passwordFile: nil, query: "SELECT 1",
            template: {
                var layer = SettingsLayer()
                layer.dsn = "host=h dbname={name}"
                layer.window = "always"
                return layer
            }(), every: .seconds(60), location: nil)
        let plain = try block.database(from: ["name": "tenant_a"], defaults: SettingsLayer()).get()
        #expect(plain.dsn == "host=h dbname=tenant_a")
        #expect(throws: DiscoveryError.badName("a b")) { try block.database(from: ["name": "a b"], defaults: SettingsLayer()).get() }
        #expect(throws: DiscoveryError.noNameColumn) { try block.database(from: ["datname": "x"], defaults: SettingsLayer()).get() }
    }
}
