import DroverCore
import DroverPostgres
import DroverRunner
import Foundation

extension Fleet {
    /// What one dsn's read found: per database, an observation or why there is none.
    typealias ObservedGroup = (dsn: String, connection: PostgresConnection?, observed: [(String, Result<DatabaseObservation, Error>)])
    /// A group's read and how long it took.
    typealias TimedGroup = (group: ObservedGroup, took: Duration)

    /// Starts reading the tracking tables of the databases that are due
    /// (`ObservationSchedule`), beside the loop: a slow server, or ten thousand
    /// tenants, never holds back the phases of the others. One read at a time; its
    /// results reach the scheduler when it is done (`applyObservations`).
    /// Databases that share a conninfo (schema tenants) are read together; different
    /// conninfos are read in parallel, a few at a time.
    func observeDue() {
        guard reading == nil else { return }
        let groups = readSchedule.due(manifest.databases, now: clock()) { running[$0] != nil }
        guard !groups.isEmpty else { return }
        let runner = makeRunner()
        let fleet = manifest.fleet
        let lent = connections.observers
        connections.observers = [:]
        let marks = readSchedule.marks
        let began = clock()
        // On the Postgres threads, as a phase's task: the reads' round trips run inline.
        reading = Task(executorPreference: PostgresExecutor.shared) {
            let results = await Self.read(groups, connections: lent, runner: runner, fleet: fleet)
            await self.applyObservations(results, marks: marks, began: began)
        }
    }

    /// The reads themselves, off the actor.
    private static func read(
        _ groups: [String: [DatabaseSpec]], connections: [String: PostgresConnection], runner: PhaseRunner, fleet: FleetSettings
    ) async -> [TimedGroup] {
        var connections = connections
        let work = groups.map { (dsn: $0.key, members: $0.value, existing: connections.removeValue(forKey: $0.key)) }
        // A few connections at a time: never a thundering herd on the servers.
        let results = await mapBounded(work, parallelism: Self.observerParallelism) { work -> TimedGroup in
            let started = ContinuousClock.now
            let group = await readGroup(dsn: work.dsn, members: work.members, connection: work.existing, runner: runner, fleet: fleet)
            return (group, .now - started)
        }
        for connection in connections.values { await connection.close() }
        return results
    }

    /// The databases of one conninfo, on its kept connection when there is one.
    private static func readGroup(
        dsn: String, members: [DatabaseSpec], connection existing: PostgresConnection?, runner: PhaseRunner, fleet: FleetSettings
    ) async -> ObservedGroup {
        var connection = existing
        var observed: [(String, Result<DatabaseObservation, Error>)] = []
        if members.count > 1 {
            // Schema tenants of one database: a few round trips for all of them.
            do {
                let targets = try members.map { spec throws(RunnerError) in try DatabaseTarget(spec, fleet: fleet) }
                if connection == nil || connection!.isBroken {
                    connection = try await PostgresConnection.connect(Self.observerConfiguration(targets[0].connection))
                }
                let batch = try await runner.observe(targets, on: connection!)
                return (
                    dsn, connection,
                    members.map {
                        (
                            $0.name,
                            batch[$0.name].map { .success($0) }
                                ?? .failure(FleetError.busy(database: $0.name, reason: "not in the batch read of its database"))
                        )
                    }
                )
            } catch {
                if let broken = connection, broken.isBroken {
                    await broken.close()
                    connection = nil
                }
                return (dsn, connection, members.map { ($0.name, .failure(error)) })
            }
        }
        for spec in members {
            do {
                let target = try DatabaseTarget(spec, fleet: fleet)
                if connection == nil || connection!.isBroken {
                    connection = try await PostgresConnection.connect(Self.observerConfiguration(target.connection))
                }
                observed.append((spec.name, .success(try await runner.observe(target, on: connection!))))
            } catch {
                observed.append((spec.name, .failure(error)))
                if let broken = connection, broken.isBroken {
                    await broken.close()
                    connection = nil
                }
            }
        }
        // Keep a connection only where several databases share it (schema
        // tenants); others reconnect at their next poll.
        if members.count == 1, let single = connection {
            await single.close()
            connection = nil
        }
        return (dsn, connection, observed)
    }

    private func applyObservations(_ results: [TimedGroup], marks: [String: Int], began: Date) {
        reading = nil
        defer { wake.signal() }  // what was read may let phases start
        let at = clock()
        for ((dsn, connection, observed), took) in results {
            readSchedule.groupRead(dsn, began: began, took: took)
            if let connection { connections.observers[dsn] = connection }
            for (name, result) in observed {
                // A phase started or ended while this was read: the read may be from
                // before its commit. The scheduler knows the phase's outcome; the
                // next poll reads the database again.
                guard running[name] == nil, readSchedule.isCurrent(name, since: marks) else { continue }
                switch result {
                case .success(let observation):
                    // Unchanged, it would only wake the scheduler for nothing.
                    if let known = scheduler.observations[name], known.reachable, known.records == observation.records,
                        known.lockedBy == observation.lockHolderPID, known.alembicVersions == observation.alembicVersions
                    {
                        continue
                    }
                    scheduler.observed(
                        name,
                        ObservedDatabase(
                            reachable: true, records: observation.records, lockedBy: observation.lockHolderPID, observedAt: at,
                            alembicVersions: observation.alembicVersions))
                case .failure(let error):
                    let previous = scheduler.observations[name]
                    scheduler.observed(
                        name,
                        ObservedDatabase(
                            reachable: false, records: previous?.records ?? [], observedAt: at, alembicVersions: previous?.alembicVersions,
                            problem: "cannot read the database: \(error)"))
                    logger.warning("cannot read the database: \(error)", metadata: ["db": "\(name)"])
                }
            }
            for (name, _) in observed { readSchedule.read(name, at: at, atRest: scheduler.isAtRest(name)) }
        }
    }

    static let observerParallelism = 4

    static func observerConfiguration(_ configuration: ConnectionConfiguration) -> ConnectionConfiguration {
        var copy = configuration
        copy.applicationName = "drover/observer"
        return copy
    }
}
