/// How to reach one database: any conninfo libpq accepts (URI, `key=value`,
/// `service=NAME`) plus settings drover adds as separate connection parameters.
/// The password never becomes part of a string: it is passed to libpq as its own
/// parameter.
public struct ConnectionConfiguration: Sendable {
    public var conninfo: String
    public var password: Secret?
    public var applicationName: String
    public var connectTimeoutSeconds: Int?

    public init(
        conninfo: String,
        password: Secret? = nil,
        applicationName: String = "drover",
        connectTimeoutSeconds: Int? = nil
    ) {
        self.conninfo = conninfo
        self.password = password
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    /// Keyword/value pairs for `PQconnectdbParams` with `expand_dbname = 1`: the
    /// conninfo goes first as `dbname` and is expanded; later pairs override it.
    var connectParameters: [(String, String)] {
        var pairs: [(String, String)] = [("dbname", conninfo)]
        if let password { pairs.append(("password", password.exposedValue)) }
        pairs.append(("application_name", applicationName))
        if let connectTimeoutSeconds { pairs.append(("connect_timeout", String(max(connectTimeoutSeconds, 2)))) }
        return pairs
    }

    /// The conninfo without any password, for logs and status (libpq parses it).
    public var redacted: String { LibPQ.redactedConninfo(conninfo) }
}
