import DroverCore
import DroverPostgres
import DroverRunner
import Foundation

extension Caller {
    /// `release_when` releasing a tier by itself (the audit log names it).
    static let releaseGate = Caller(user: "release_when")
}

extension Fleet {
    /// Every poll interval, for each tier with `release_when` whose target is not
    /// released yet, reads the client sessions of its databases (one connection per
    /// database, schema tenants sharing it) beside the loop; `applyReleaseGates`
    /// releases the target once `ReleaseGateWatch` says the clients moved and settled.
    func watchReleaseGatesDue() {
        guard releaseGateRead == nil, lastReleaseGateRead.map({ ContinuousClock.now - $0 >= readSchedule.pollInterval }) ?? true else { return }
        var gated: [(tier: String, gate: ReleaseGate, target: String, databases: [DatabaseSpec])] = []
        for (tier, gate) in manifest.releaseWhen.sorted(by: { $0.key < $1.key }) {
            guard let target = scheduler.target(ofTier: tier), scheduler.tiers[tier]?.released.map({ graph.isAncestor(target, of: $0) }) != true else {
                releaseGates.forget(tier)
                continue
            }
            var byDatabase: [String: DatabaseSpec] = [:]
            for spec in manifest.databases where spec.tier == tier && byDatabase[spec.dsn] == nil { byDatabase[spec.dsn] = spec }
            gated.append((tier, gate, target, byDatabase.values.sorted { $0.name < $1.name }))
        }
        guard !gated.isEmpty else { return }
        lastReleaseGateRead = .now
        let fleet = manifest.fleet
        // On the Postgres threads, as a phase's task: the reads' round trips run inline.
        releaseGateRead = Task(executorPreference: PostgresExecutor.shared) {
            var results: [(tier: String, gate: ReleaseGate, target: String, sessions: Result<[String], any Error>)] = []
            for (tier, gate, target, databases) in gated {
                var sessions: [String] = []
                do {
                    for spec in databases { sessions += try await Self.clientSessions(of: spec, fleet: fleet) }
                    results.append((tier, gate, target, .success(sessions)))
                } catch {
                    results.append((tier, gate, target, .failure(error)))
                }
            }
            await self.applyReleaseGates(results)
        }
    }

    private func applyReleaseGates(_ results: [(tier: String, gate: ReleaseGate, target: String, sessions: Result<[String], any Error>)]) async {
        defer { releaseGateRead = nil }
        for (tier, gate, target, sessions) in results {
            switch sessions {
            case .failure(let error):
                logger.warning("release_when: cannot read the client sessions: \(error)", metadata: ["tier": "\(tier)"])
            case .success(let names):
                let before = releaseGates.waitingOn[tier]
                let releaseNow = releaseGates.observed(tier: tier, gate: gate, target: target, graph: graph, sessions: names, now: clock())
                if let waiting = releaseGates.waitingOn[tier], waiting.split(separator: " ").prefix(3) != before?.split(separator: " ").prefix(3) {
                    logger.info("release_when waits: \(waiting)", metadata: ["tier": "\(tier)"])
                    emit("release-waiting", waiting, tier: tier, revision: target)
                }
                guard releaseNow else { continue }
                logger.notice("release_when: every client of \(tier) runs \(target) or later, for \(DurationText.format(gate.settle)): releasing it")
                do {
                    _ = try await release(target, tier: tier, by: .releaseGate)
                } catch {
                    logger.error("release_when could not release \(target) in \(tier): \(error)")
                }
            }
        }
    }

    /// The `application_name` of every client session on `spec`'s database but
    /// drover's own.
    private static func clientSessions(of spec: DatabaseSpec, fleet: FleetSettings) async throws -> [String] {
        var configuration = try DatabaseTarget(spec, fleet: fleet).connection
        configuration.applicationName = "drover/release-gate"
        let connection = try await PostgresConnection.connect(configuration)
        defer { Task { await connection.close() } }
        let rows = try await connection.query(
            """
            SELECT application_name FROM pg_stat_activity
             WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
               AND application_name NOT LIKE 'drover/%'
            """
        ).rows
        return rows.compactMap { $0[0] }
    }
}
