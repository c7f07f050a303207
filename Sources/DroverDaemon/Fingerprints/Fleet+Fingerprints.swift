import DroverCore
import DroverPostgres
import DroverRunner
import Foundation

/// Schema tenants' fingerprints (docs/daemon.md) are read in batches: not at the end of
/// each tenant's phase but together with the other tenants of its database whose
/// phases ended meanwhile, one query for all of them, once the database's phases
/// are quiet. Read one by one they cost more server time than a tenant's `CREATE
/// TABLE`, and read beside running phases ten times what they cost alone (each
/// `CREATE TABLE` invalidates the catalog caches the read goes through). A
/// database's next phase waits for its queued fingerprint, so the fingerprint
/// shows the schema the phase that queued it left; promote and drift wait for all.
extension Fleet {
    /// After a schema tenant's phase: its fingerprint at `revision`, with the next batch.
    func queueFingerprint(of spec: DatabaseSpec, revision: String) {
        fingerprints.queue(spec.name, revision: revision, key: connectionKey(spec), at: .now)
    }

    /// Starts reading the queued fingerprints of the databases whose batch is due
    /// (`FingerprintQueue`), beside the loop, unless a batch is being read
    /// (`force`: someone waits, read them all).
    func fingerprintDue(force: Bool = false) {
        guard fingerprinting == nil, !fingerprints.isEmpty else { return }
        let busy = Set(running.keys.compactMap { scheduler.database(named: $0).map(connectionKey) })
        let due = fingerprints.dueKeys(at: .now, busy: busy, force: force)
        guard !due.isEmpty else { return }
        var groups: [String: [(target: DatabaseTarget, revision: String)]] = [:]
        let batch = fingerprints.take(due)
        for (key, members) in batch {
            for (name, revision) in members {
                guard let spec = scheduler.database(named: name), let target = try? DatabaseTarget(spec, fleet: manifest.fleet) else { continue }
                groups[key, default: []].append((target, revision))
            }
        }
        let names = Set(batch.values.flatMap { $0.map(\.name) })
        var lent: [String: PostgresConnection] = [:]
        for key in groups.keys {
            let (connection, broken) = connections.take(key)
            lent[key] = connection
            for connection in broken { Task { await connection.close() } }
        }
        let runner = makeRunner()
        // On the Postgres threads, as a phase's task: the reads' round trips run inline.
        let task = Task(executorPreference: PostgresExecutor.shared) {
            let results = await Self.readFingerprints(groups, connections: lent, runner: runner)
            await self.recordFingerprints(results)
        }
        fingerprinting = (task, names)
    }

    /// Returns once `spec`'s queued fingerprint is read (before its next phase).
    func fingerprintTaken(of spec: DatabaseSpec) async {
        while true {
            if let batch = fingerprinting, batch.names.contains(spec.name) {
                await batch.task.value
            } else if fingerprints.contains(spec.name, key: connectionKey(spec)) {
                if let batch = fingerprinting { await batch.task.value } else { fingerprintDue(force: true) }
            } else {
                return
            }
        }
    }

    /// Returns once every queued fingerprint is read (promote, drift, shutdown).
    func fingerprintsSettled() async {
        while fingerprinting != nil || !fingerprints.isEmpty {
            if let batch = fingerprinting { await batch.task.value } else { fingerprintDue(force: true) }
        }
    }

    /// Each database's fingerprint digest at `revision`, queued ones included (the
    /// promotion gate).
    func fingerprintDigests(at revision: String) async -> [String: String] {
        await fingerprintsSettled()
        return (try? await store.fingerprintDigests(at: revision)) ?? [:]
    }

    /// `key`: the connection key the connection goes back under.
    typealias FingerprintBatch = (
        key: String, connection: PostgresConnection?, result: Result<[(database: String, revision: String, snapshot: SchemaSnapshot)], PostgresError>
    )

    /// The reads, off the actor: a few databases at a time, each in chunks.
    private static func readFingerprints(
        _ groups: [String: [(target: DatabaseTarget, revision: String)]], connections: [String: PostgresConnection], runner: PhaseRunner
    ) async -> [FingerprintBatch] {
        let work = groups.map { (key: $0.key, members: $0.value, existing: connections[$0.key]) }
        return await mapBounded(work, parallelism: Self.observerParallelism) { work -> FingerprintBatch in
            let (key, members) = (work.key, work.members)
            var connection = work.existing
            do throws(PostgresError) {
                if connection == nil || connection!.isBroken {
                    var configuration = members[0].target.connection
                    configuration.applicationName = "drover/fingerprint"
                    connection = try await PostgresConnection.connect(configuration)
                }
                var taken: [(database: String, revision: String, snapshot: SchemaSnapshot)] = []
                for start in stride(from: 0, to: members.count, by: FingerprintQueue.chunk) {
                    let chunk = members[start..<min(start + FingerprintQueue.chunk, members.count)]
                    let snapshots = try await runner.fingerprints(ofTenants: chunk.map(\.target), on: connection!)
                    taken += chunk.compactMap { member in snapshots[member.target.name].map { (member.target.name, member.revision, $0) } }
                }
                return (key, connection, .success(taken))
            } catch {
                if let broken = connection, broken.isBroken {
                    await broken.close()
                    connection = nil
                }
                return (key, connection, .failure(error))
            }
        }
    }

    private func recordFingerprints(_ batches: [FingerprintBatch]) async {
        defer { fingerprinting = nil }
        heapTrim.worked(at: .now)
        var taken: [(database: String, revision: String, snapshot: SchemaSnapshot)] = []
        for batch in batches {
            // Back among the phases' idle connections (each phase resets its session).
            if let connection = batch.connection { connections.keep(connection, for: batch.key, at: .now) }
            switch batch.result {
            case .success(let fingerprints):
                taken += fingerprints
            case .failure(let error):
                // As for a whole database's fingerprint after its phase: the phase
                // stands, only the fingerprint is missing until the next phase.
                logger.warning("cannot read schema fingerprints after phases: \(error)")
            }
        }
        guard !taken.isEmpty else { return }
        do {
            try await store.recordFingerprints(taken, at: clock())
            stateStoreWritable()
            driftWatch.fingerprintsChanged()
        } catch {
            logger.error("schema fingerprints not recorded: \(stateStoreFailed(error))")
        }
    }
}
