import DroverCore
import DroverTestSupport
import Foundation
import Testing

private func droverctl(_ arguments: [String], in directory: String? = nil) async throws -> Subprocess.Result {
    let binary = try Subprocess.builtProduct("droverctl")
    guard let directory else { return try await Subprocess.run([binary] + arguments) }
    // `check .` needs the working directory; the shell is the simplest way to set it.
    return try await Subprocess.run(["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory, binary] + arguments)
}

/// Projects made by the real `alembic init` of each template, read as Alembic reads
/// them: from a manifest naming the configuration by a relative path, from
/// `check DIR`, and from `check .` inside the project.
@Suite("Alembic projects in the layouts alembic init writes")
struct AlembicInitLayoutTests {
    static let templates = ["generic", "async", "multidb", "pyproject"]

    @Test("every template: the manifest's relative path, check DIR and check . find the project and its revision", .serialized, arguments: templates)
    func layout(_ template: String) async throws {
        let alembic = try await AlembicProjectFixture.alembicExecutable()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("drover-init-\(template)-\(UUID().uuidString.prefix(6))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let app = root + "/app"
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        let initialised = try await Subprocess.run(["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", app, alembic, "init", "--template", template, "migrations"])
        try #require(initialised.status == 0, "\(initialised.errors)")
        let revision = try await Subprocess.run([
            "/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", app, alembic, "revision", "-m", "first", "--rev-id", "a1b2c3d4e5f6",
        ])
        try #require(revision.status == 0, "\(revision.errors)")

        let configuration = template == "pyproject" ? "pyproject.toml" : "alembic.ini"
        // The manifest names the configuration relative to itself (fleet.d/../app/...).
        try FileManager.default.createDirectory(atPath: root + "/fleet.d", withIntermediateDirectories: true)
        try """
        fleet: {name: t, migrations: ../app/\(configuration)}
        windows: {always: {always: true}}
        databases:
          - {name: one, tier: preview, dsn: "host=localhost dbname=one", window: always}
        """.write(toFile: root + "/fleet.d/fleet.yaml", atomically: true, encoding: .utf8)
        for (arguments, directory) in [
            (["check", "--offline", "fleet.d"], root),
            (["check", "app"], root),
            (["check", "app/migrations"], root),
            (["check", "."], app),
        ] {
            let result = try await droverctl(arguments, in: directory)
            #expect(result.status == 0, "\(template): \(arguments) in \(directory): \(result.errors)")
            #expect(result.output.contains("1 revision, head a1b2c3d4e5f6"), "\(template): \(arguments): \(result.output)")
        }

        // And the loader droverd uses, through the manifest's `..` (relative to the
        // working directory droverctl's check above covers: changing this process's
        // directory would move every process the other tests start meanwhile).
        let (repository, diagnostics) = RevisionRepository.load(directory: root + "/fleet.d/../app/\(configuration)")
        #expect(diagnostics.errors.isEmpty, "\(diagnostics)")
        #expect(repository?.alembic?.scriptLocation == URL(fileURLWithPath: app + "/migrations").standardizedFileURL.path)
        #expect(repository?.alembic?.workingDirectory == URL(fileURLWithPath: app).standardizedFileURL.path)
        #expect(repository?.head == "a1b2c3d4e5f6")
    }
}
