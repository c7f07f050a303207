import DroverCore
import DroverPostgres
import DroverRunner

/// The part of `droverctl check` that reads the databases (skipped with
/// `--offline`): every database's Alembic version table, so that a repository
/// that does not know a revision some database is at is caught before it is
/// deployed. Reads only; databases sharing a conninfo share one connection, a few
/// servers at a time, each with a short connect timeout.
struct AlembicRevisionCheck {
    var manifest: Manifest
    var graph: RevisionGraph
    var connectTimeoutSeconds = 5
    var parallelism = 8

    struct Result {
        var warnings: [Diagnostic] = []
        /// Databases that could not be read, with why (not a finding about the files).
        var unreachable: [(name: String, reason: String)] = []
        var checked = 0
    }

    func run() async -> Result {
        let groups = Dictionary(grouping: manifest.databases, by: \.dsn).values.map { $0 }
        var result = Result()
        await withTaskGroup(of: Result.self) { group in
            var next = 0
            func add() {
                let members = groups[next]
                next += 1
                group.addTask { await check(members) }
            }
            while next < min(parallelism, groups.count) { add() }
            for await partial in group {
                result.warnings += partial.warnings
                result.unreachable += partial.unreachable
                result.checked += partial.checked
                if next < groups.count { add() }
            }
        }
        result.warnings.sort { ($0.location?.line ?? 0) < ($1.location?.line ?? 0) }
        return result
    }

    private func check(_ members: [DatabaseSpec]) async -> Result {
        var result = Result()
        let targets: [DatabaseTarget]
        do {
            targets = try members.map { spec throws(RunnerError) in
                var target = try DatabaseTarget(spec, fleet: manifest.fleet)
                target.connection.connectTimeoutSeconds = connectTimeoutSeconds
                target.connection.applicationName = "droverctl/check"
                return target
            }
        } catch {
            return Result(unreachable: members.map { ($0.name, "\(error)") })
        }
        let runner = PhaseRunner(graph: graph, actor: "droverctl check")
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(targets[0].connection)
        } catch {
            return Result(unreachable: members.map { ($0.name, error.message) })
        }
        do {
            let observations = try await runner.observe(targets, on: connection)
            for (spec, target) in zip(members, targets) {
                result.checked += 1
                let versions = observations[spec.name]?.alembicVersions ?? []
                for version in versions where graph[version] == nil {
                    result.warnings.append(
                        Diagnostic(
                            .warning, at: spec.location,
                            "database \(spec.name) is at Alembic revision \(version) (\(target.alembicVersionTable)), which the revision repository does not have"
                        ))
                }
            }
        } catch {
            result.unreachable += members.map { ($0.name, error.message) }
        }
        await connection.close()
        return result
    }
}
