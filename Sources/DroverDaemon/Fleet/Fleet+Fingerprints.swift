import DroverCore
import DroverPostgres
import DroverRunner
import Foundation

/// Schema tenants' fingerprints (SPEC §7) are read in batches: not at the end of
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
        let key = Self.connectionKey(spec)
        pendingFingerprintsQueued[key] = (first: pendingFingerprintsQueued[key]?.first ?? .now, last: .now)
        pendingFingerprints[key, default: [:]][spec.name] = revision
    }

    /// Starts reading the queued fingerprints of the databases whose batch is due,
    /// beside the loop, unless a batch is being read (`force`: someone waits, read
    /// them all).
    func fingerprintDue(force: Bool = false) {
        guard fingerprinting == nil, !pendingFingerprints.isEmpty else { return }
        let busy = Set(running.keys.compactMap { scheduler.database(named: $0).map(Self.connectionKey) })
        let due = pendingFingerprints.keys.filter { key in
            guard !force, let queued = pendingFingerprintsQueued[key] else { return true }
            return Self.fingerprintBatchDue(waited: .now - queued.first, quietFor: .now - queued.last, databaseBusy: busy.contains(key))
        }
        guard !due.isEmpty else { return }
        var groups: [String: [(target: DatabaseTarget, revision: String)]] = [:]
        let batch = Self.takeBatch(from: &pendingFingerprints, keys: due, limit: Self.fingerprintBatchLimit)
        for (key, members) in batch {
            if pendingFingerprints[key] == nil { pendingFingerprintsQueued[key] = nil }
            for (name, revision) in members {
                guard let spec = scheduler.database(named: name), let target = try? DatabaseTarget(spec, fleet: manifest.fleet) else { continue }
                groups[key, default: []].append((target, revision))
            }
        }
        let names = Set(batch.values.flatMap { $0.map(\.name) })
        var connections: [String: PostgresConnection] = [:]
        for (key, group) in groups {
            if let spec = scheduler.database(named: group[0].target.name) { connections[key] = takeIdleConnection(for: spec) }
        }
        let runner = makeRunner()
        // On the Postgres threads, as a phase's task: the reads' round trips run inline.
        let task = Task(executorPreference: PostgresExecutor.shared) {
            let results = await Self.readFingerprints(groups, connections: connections, runner: runner)
            await self.recordFingerprints(results)
        }
        fingerprinting = (task, names)
    }

    /// Up to `limit` of the queued fingerprints of `keys`, by key, taken out of
    /// `pending` (a key left empty is removed): the rows and snapshots of a batch
    /// are held at once, so the rest follows with the next batch.
    static func takeBatch(from pending: inout [String: [String: String]], keys: [String], limit: Int) -> [String: [(name: String, revision: String)]] {
        var batch: [String: [(name: String, revision: String)]] = [:]
        var taken = 0
        for key in keys.sorted() where taken < limit {
            let members = (pending[key] ?? [:]).sorted(by: { $0.key < $1.key }).prefix(limit - taken)
            guard !members.isEmpty else { continue }
            for (name, _) in members { pending[key]?[name] = nil }
            if pending[key]?.isEmpty == true { pending[key] = nil }
            batch[key] = members.map { (name: $0.key, revision: $0.value) }
            taken += members.count
        }
        return batch
    }

    /// Returns once `spec`'s queued fingerprint is read (before its next phase).
    func fingerprintTaken(of spec: DatabaseSpec) async {
        while true {
            if let batch = fingerprinting, batch.names.contains(spec.name) {
                await batch.task.value
            } else if pendingFingerprints[Self.connectionKey(spec)]?[spec.name] != nil {
                if let batch = fingerprinting { await batch.task.value } else { fingerprintDue(force: true) }
            } else {
                return
            }
        }
    }

    /// Returns once every queued fingerprint is read (promote, drift, shutdown).
    func fingerprintsSettled() async {
        while fingerprinting != nil || !pendingFingerprints.isEmpty {
            if let batch = fingerprinting { await batch.task.value } else { fingerprintDue(force: true) }
        }
    }

    /// A database's batch is read once its phases were quiet for a second (none
    /// runs, and its last fingerprint was queued a second ago: phases that start
    /// one after another leave moments with none running), or once its first
    /// fingerprint waited a minute. A read has a
    /// fixed cost of several milliseconds (planning alone about 2 ms: every `CREATE
    /// TABLE` anywhere resets the plan cache): read as soon as any were queued, the
    /// batches held four tenants on average and cost as much as one by one; read
    /// beside a rollout, a tenant costs ten times what it costs on a quiet database
    /// (`docs/benchmarks.md`). The minute bounds what a crash can lose (the
    /// fingerprint is taken again at the tenant's next phase).
    static func fingerprintBatchDue(waited: Duration, quietFor: Duration, databaseBusy: Bool) -> Bool {
        waited >= fingerprintLongestWait || (quietFor >= fingerprintBatchDelay && !databaseBusy)
    }

    static let fingerprintBatchDelay: Duration = .seconds(1)
    static let fingerprintLongestWait: Duration = .seconds(60)

    /// Each database's fingerprint digest at `revision`, queued ones included (the
    /// promotion gate).
    func fingerprintDigests(at revision: String) async -> [String: String] {
        await fingerprintsSettled()
        return ((try? await store.fingerprints(at: revision)) ?? [:]).mapValues(\.digest)
    }

    /// `first`: one database of the batch's connection key, whose spec the connection goes back under.
    typealias FingerprintBatch = (key: String, first: String, connection: PostgresConnection?, result: Result<[(database: String, revision: String, snapshot: SchemaSnapshot)], PostgresError>)

    /// The reads, off the actor: a few databases at a time, each in chunks.
    private static func readFingerprints(_ groups: [String: [(target: DatabaseTarget, revision: String)]], connections: [String: PostgresConnection], runner: PhaseRunner) async -> [FingerprintBatch] {
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
                for start in stride(from: 0, to: members.count, by: Self.fingerprintChunk) {
                    let chunk = members[start..<min(start + Self.fingerprintChunk, members.count)]
                    let snapshots = try await runner.fingerprints(ofTenants: chunk.map(\.target), on: connection!)
                    taken += chunk.compactMap { member in snapshots[member.target.name].map { (member.target.name, member.revision, $0) } }
                }
                return (key, members[0].target.name, connection, .success(taken))
            } catch {
                if let broken = connection, broken.isBroken { await broken.close(); connection = nil }
                return (key, members[0].target.name, connection, .failure(error))
            }
        }
    }

    static let fingerprintChunk = 500
    static let fingerprintBatchLimit = 2 * fingerprintChunk

    private func recordFingerprints(_ batches: [FingerprintBatch]) async {
        defer { fingerprinting = nil }
        heapTrim.worked(at: .now)
        var taken: [(database: String, revision: String, snapshot: SchemaSnapshot)] = []
        for batch in batches {
            if let connection = batch.connection {
                // Back among the phases' idle connections (each phase resets its session).
                if let spec = scheduler.database(named: batch.first) {
                    keepIdleConnection(connection, for: spec)
                } else {
                    Task { await connection.close() }
                }
            }
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
        } catch {
            logger.error("schema fingerprints not recorded: \(stateStoreFailed(error))")
        }
    }
}
