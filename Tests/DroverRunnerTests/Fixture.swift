import DroverCore
import DroverPostgres
import DroverRunner
import DroverTestSupport
import Foundation
import Testing

/// A fresh database on the shared test cluster, and helpers to run revisions on it.
struct Fixture {
    let cluster: TestCluster
    let database: String

    static func make(_ prefix: String = "run") async throws -> Fixture {
        let cluster = try await TestCluster.shared()
        return Fixture(cluster: cluster, database: try await cluster.createDatabase(prefix))
    }

    /// Short timeouts and backoffs so failure paths run in a test's time.
    static var fastSettings: DatabaseSettings {
        var settings = DatabaseSettings()
        settings.lockTimeout = .milliseconds(300)
        settings.statementTimeout = .seconds(30)
        settings.retry = RetryPolicy(attempts: 3, minBackoff: .milliseconds(50), maxBackoff: .milliseconds(200))
        return settings
    }

    func target(schema: String? = nil, settings: DatabaseSettings = Fixture.fastSettings) -> DatabaseTarget {
        DatabaseTarget(
            name: database + (schema.map { "/\($0)" } ?? ""), connection: cluster.configuration(database: database), schema: schema, trackingSchema: "drover",
            settings: settings)
    }

    func session(schema: String? = nil, settings: DatabaseSettings = Fixture.fastSettings) -> RunnerSession {
        RunnerSession(target: target(schema: schema, settings: settings))
    }

    @discardableResult
    func sql(_ query: String) async throws -> QueryResult {
        try await cluster.run(query, database: database)
    }

    func scalar(_ query: String) async throws -> String? {
        try await sql(query).scalar
    }

    /// `tenant`: a schema tenant's rows in the shared table.
    func records(schema: String = "drover", tenant: String? = nil) async throws -> [[String?]] {
        let only = tenant.map { " WHERE schema = '\($0)'" } ?? ""
        return try await sql("SELECT revision, phase, status, rows_affected FROM \(schema).revisions\(only) ORDER BY started_at, phase").rows
    }

    func tableExists(_ name: String) async throws -> Bool {
        try await scalar("SELECT to_regclass('\(name)') IS NOT NULL") == "t"
    }
}

/// Parses revision texts into a graph (the files need not exist).
func graph(_ texts: String...) throws -> RevisionGraph {
    var revisions: [Revision] = []
    for (index, text) in texts.enumerated() {
        let (revision, diagnostics) = RevisionParser.parse(text, file: "r\(index).sql")
        guard let revision else { throw DiagnosticsError(diagnostics) }
        revisions.append(revision)
    }
    let (built, diagnostics) = RevisionGraph.build(revisions)
    guard diagnostics.errors.isEmpty else { throw DiagnosticsError(diagnostics) }
    return built
}

func runner(_ graph: RevisionGraph) -> PhaseRunner {
    PhaseRunner(graph: graph, actor: "tests")
}

func step(_ revision: String, _ phase: Phase) -> PlannedStep {
    PlannedStep(revision: revision, phase: phase)
}

/// Polls until `condition` holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}

extension Result where Failure == RunnerError {
    /// Captures a runner call's outcome, for tests that inspect the error's fields.
    init(catching body: () async throws(RunnerError) -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
