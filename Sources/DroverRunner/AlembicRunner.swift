import DroverCore
import DroverPostgres
import Foundation

/// How drover runs a revision of an Alembic project: the project's own `alembic`
/// (`fleet.alembic.command`) as `alembic -c <ini> upgrade <revision>`, in the
/// configuration's folder (where Alembic finds a `pyproject.toml`), pointed at one
/// database.
///
/// The database reaches Alembic three ways, so that any env.py finds it: a URL in
/// `fleet.alembic.url_env` (default `DATABASE_URL`), optionally `-x NAME=URL`, and
/// libpq's own `PG*` variables (an env.py with an empty URL). The URL never holds
/// the password: that is `PGPASSWORD`, in the environment only, which libpq reads.
/// `PGOPTIONS` carries the database's lock and statement timeouts and, for a
/// schema tenant, its `search_path`, so Alembic works under the same limits as
/// drover's own SQL.
public struct AlembicRunner: Sendable {
    public var project: AlembicProject
    public var command: AlembicCommand

    public init(project: AlembicProject, command: AlembicCommand) {
        self.project = project
        self.command = command
    }

    func process(revision: String, phase: Phase, target: DatabaseTarget, connection: PostgresConnection) -> ChildProcess {
        let url = Self.url(connection.options, scheme: command.urlScheme)
        var arguments = command.command + (project.iniArgument.map { ["-c", $0] } ?? [])
        if let name = command.urlArgument { arguments += ["-x", "\(name)=\(url)"] }
        arguments += ["upgrade", revision]
        return ChildProcess(
            arguments: arguments,
            environment: environment(url: url, revision: revision, phase: phase, target: target, connection: connection),
            directory: project.workingDirectory
        )
    }

    /// The daemon's environment without libpq variables of its own, then the
    /// database's.
    func environment(url: String, revision: String, phase: Phase, target: DatabaseTarget, connection: PostgresConnection) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
        for (keyword, variable) in Self.libpqVariables {
            if let value = connection.options[keyword], !value.isEmpty { environment[variable] = value }
        }
        if let password = connection.password { environment["PGPASSWORD"] = password.exposedValue }
        environment["PGAPPNAME"] = "drover/\(revision)/\(phase.rawValue)"
        var options = [
            "-c lock_timeout=\(target.settings.lockTimeout.milliseconds)ms",
            "-c statement_timeout=\(target.settings.statementTimeout.milliseconds)ms",
        ]
        if let schema = target.schema { options.append("-c search_path=\(Self.escapeOption(schema))") }
        // A cancelled or killed alembic must not leave its statement running on the
        // server (PostgreSQL 14 and later notice a vanished client within a second).
        if connection.serverVersion >= 140000 { options.append("-c client_connection_check_interval=1000") }
        if let own = connection.options["options"], !own.isEmpty { options.insert(own, at: 0) }
        environment["PGOPTIONS"] = options.joined(separator: " ")
        if let variable = command.urlVariable { environment[variable] = url }
        environment["DROVER_DATABASE"] = target.name
        environment["DROVER_REVISION"] = revision
        environment["DROVER_PHASE"] = phase.rawValue
        if let schema = target.schema { environment["DROVER_SCHEMA"] = schema } else { environment["DROVER_SCHEMA"] = nil }
        return environment
    }

    /// `postgresql://user@host:port/dbname` (scheme from `fleet.alembic.url_scheme`), or with the host in the query string
    /// for a Unix socket folder or several hosts. No password, ever.
    static func url(_ options: [String: String], scheme: String = "postgresql") -> String {
        let user = options["user"].map { encode($0) + "@" } ?? ""
        let database = encode(options["dbname"] ?? "")
        let host = options["host"] ?? ""
        let port = options["port"] ?? ""
        if host.isEmpty || host.hasPrefix("/") || host.contains(",") {
            var query: [String] = []
            if !host.isEmpty { query.append("host=" + encode(host)) }
            if !port.isEmpty { query.append("port=" + encode(port)) }
            return "\(scheme)://\(user)/\(database)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        }
        let hostPart = host.contains(":") ? "[\(host)]" : encode(host)
        return "\(scheme)://\(user)\(hostPart)\(port.isEmpty ? "" : ":" + port)/\(database)"
    }

    private static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// PGOPTIONS splits on spaces; a backslash escapes one.
    private static func escapeOption(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: " ", with: "\\ ")
    }

    /// libpq connection keywords and the environment variables libpq reads for them.
    static let libpqVariables: [(String, String)] = [
        ("host", "PGHOST"), ("hostaddr", "PGHOSTADDR"), ("port", "PGPORT"), ("dbname", "PGDATABASE"),
        ("user", "PGUSER"), ("passfile", "PGPASSFILE"), ("channel_binding", "PGCHANNELBINDING"),
        ("connect_timeout", "PGCONNECT_TIMEOUT"), ("sslmode", "PGSSLMODE"), ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"), ("sslrootcert", "PGSSLROOTCERT"), ("sslcrl", "PGSSLCRL"),
        ("requirepeer", "PGREQUIREPEER"), ("gssencmode", "PGGSSENCMODE"), ("krbsrvname", "PGKRBSRVNAME"),
        ("target_session_attrs", "PGTARGETSESSIONATTRS"),
    ]
}
