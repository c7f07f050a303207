import Foundation

/// A real Alembic project in a temporary folder: `alembic.ini` (with Alembic's
/// usual logging sections), an `env.py` that connects to `$DATABASE_URL` the way
/// the Alembic cookbook does, and `alembic/versions/`. Run with the `alembic` of
/// the test virtualenv (`scripts/test` installs alembic, SQLAlchemy and
/// psycopg2-binary from PyPI; made here when a developer runs `swift test` alone).
public struct AlembicProjectFixture: Sendable {
    public let directory: String
    public let alembic: String
    public var ini: String { directory + "/alembic.ini" }
    public var versions: String { directory + "/alembic/versions" }

    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The virtualenv's `alembic`, installing the packages when they are missing.
    public static func alembicExecutable() async throws -> String {
        let venv = repositoryRoot + "/.venv-test"
        let alembic = venv + "/bin/alembic"
        if (try? await Subprocess.run([venv + "/bin/python", "-c", "import alembic, sqlalchemy, psycopg2"]).status) != 0 {
            if !FileManager.default.fileExists(atPath: venv + "/bin/pip") {
                _ = try await Subprocess.run(["python3", "-m", "venv", venv])
            }
            let install = try await Subprocess.run([
                venv + "/bin/pip", "install", "--quiet", "--disable-pip-version-check", "alembic", "sqlalchemy", "psycopg2-binary",
            ])
            guard install.status == 0 else { throw FixtureError(description: "cannot install alembic: \(install.errors)") }
        }
        return alembic
    }

    /// A project in `parent`/alembic-project with the given `versions/` files.
    public static func make(in parent: String, revisions: [String: String], envExtra: String = "") async throws -> AlembicProjectFixture {
        let project = AlembicProjectFixture(directory: parent + "/alembic-project", alembic: try await alembicExecutable())
        try FileManager.default.createDirectory(atPath: project.versions, withIntermediateDirectories: true)
        try iniText.write(toFile: project.ini, atomically: true, encoding: .utf8)
        try (envText + envExtra).write(toFile: project.directory + "/alembic/env.py", atomically: true, encoding: .utf8)
        for (name, text) in revisions { try project.write(revision: name, text) }
        return project
    }

    public func write(revision name: String, _ text: String) throws {
        try text.write(toFile: versions + "/" + name, atomically: true, encoding: .utf8)
    }

    /// Runs `alembic -c alembic.ini ARGUMENTS` against `url`.
    public func run(_ arguments: [String], url: String) async throws -> Subprocess.Result {
        try await Subprocess.run([alembic, "-c", ini] + arguments, environment: ["DATABASE_URL": url])
    }

    /// What `alembic current` says about a database: its revisions, sorted.
    public func current(url: String) async throws -> [String] {
        let result = try await run(["current"], url: url)
        guard result.status == 0 else { throw FixtureError(description: "alembic current failed: \(result.errors)") }
        return result.output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }.sorted()
    }

    /// A SQLAlchemy URL for a database of the test cluster, over its Unix socket,
    /// with psycopg2 (SQLAlchemy 2.1's default driver is psycopg 3).
    public static func url(_ cluster: TestCluster, database: String) -> String {
        "postgresql+psycopg2://\(cluster.superuser)@/\(database)?host=\(cluster.socketDirectory)&port=\(cluster.port)"
    }

    static let iniText = """
        [alembic]
        script_location = %(here)s/alembic

        [loggers]
        keys = root,sqlalchemy,alembic

        [handlers]
        keys = console

        [formatters]
        keys = generic

        [logger_root]
        level = WARNING
        handlers = console
        qualname =

        [logger_sqlalchemy]
        level = WARNING
        handlers =
        qualname = sqlalchemy.engine

        [logger_alembic]
        level = INFO
        handlers =
        qualname = alembic

        [handler_console]
        class = StreamHandler
        args = (sys.stderr,)
        level = NOTSET
        formatter = generic

        [formatter_generic]
        format = %(levelname)-5.5s [%(name)s] %(message)s

        """

    public static let envText = """
        import os
        from logging.config import fileConfig

        from alembic import context
        from sqlalchemy import create_engine, pool

        config = context.config
        if config.config_file_name is not None:
            fileConfig(config.config_file_name)


        def run_migrations_online():
            engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
            with engine.connect() as connection:
                context.configure(connection=connection, target_metadata=None)
                with context.begin_transaction():
                    context.run_migrations()


        run_migrations_online()

        """
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
}
