import DroverCore
import DroverPostgres
import Foundation

extension Fleet {
    /// Runs the `discover` queries that are due (all of them with `force`: at start
    /// and on reload). New databases join their tier and its waves; a rollout in
    /// progress takes them in the wave that selects them. Databases that vanish stay
    /// in status as `gone`, with their history. A failing query keeps the previous list.
    func discoverDue(force: Bool = false) async {
        let now = clock()
        var changed = false
        for (index, block) in definition.manifest.discover.enumerated() {
            guard discovery.startRun(index, every: block.every, now: now, force: force) else { continue }
            do {
                var found: [DatabaseSpec] = []
                for row in try await Self.runDiscovery(block) {
                    switch block.database(from: row, defaults: definition.manifest.defaults) {
                    case .success(let spec): found.append(spec)
                    case .failure(let error): logger.error("discover (\(block.location.map(\.description) ?? "?")): \(error)")
                    }
                }
                if discovery.record(index, found) { changed = true }
            } catch {
                logger.error("discover query failed; keeping the previous list: \(error)", metadata: ["tier": "\(block.tier)"])
            }
        }
        if changed || force { applyDiscovered() }
    }

    /// The manifest's own databases plus the discovered ones go to the scheduler.
    func applyDiscovered() {
        let (effective, vanished) = discovery.merge(into: definition.manifest, previous: scheduler.manifest.databases)
        for name in vanished {
            logger.notice("no longer found by discovery: shown as gone, history kept", metadata: ["db": "\(name)"])
        }
        for action in scheduler.replace(manifest: effective, graph: definition.repository.graph) {
            if case .readSoon(let name) = action { readSchedule.soon(name) } else { assertionFailure("replace returned \(action)") }
        }
    }

    private static func runDiscovery(_ block: DiscoverSpec) async throws -> [[String: String]] {
        var password: Secret?
        if let path = block.passwordFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw FleetError.invalidParameter("password_file", reason: "cannot read password_file \(path)")
            }
            password = Secret(passwordFileContents: String(decoding: data, as: UTF8.self))
        }
        let connection = try await PostgresConnection.connect(
            ConnectionConfiguration(conninfo: block.dsn, password: password, applicationName: "drover/discover", connectTimeoutSeconds: 10))
        defer { Task { await connection.close() } }
        let result = try await connection.query(block.query)
        return result.rows.map { row in
            var values: [String: String] = [:]
            for (column, value) in zip(result.columns, row) { if let value { values[column] = value } }
            return values
        }
    }
}
