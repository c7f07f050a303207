import DroverPostgres
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL cluster for tests: `initdb` in a short temporary
/// directory (run as an unprivileged user when the tests run as root, since initdb
/// refuses root), a Unix socket there and a free port on 127.0.0.1. One cluster
/// serves the whole test process; it is stopped and removed when the process exits,
/// and a cluster left behind by a crashed run is removed by the next one.
public final class TestCluster: Sendable {
    public let directory: String
    public let port: Int
    public let binDirectory: String
    /// The unprivileged OS user running the server (nil when tests are not root).
    public let osUser: String?
    public let superuser = "postgres"
    /// Needed over TCP (`tcpConninfo`); the Unix socket trusts local users.
    public static let superuserPassword = "drover-test-superuser"

    private static let startup = Mutex<Task<TestCluster, any Error>?>(nil)
    private let counter = Mutex(0)

    /// The process-wide cluster, started on first use.
    public static func shared() async throws -> TestCluster {
        let task = startup.withLock { task in
            if let task { return task }
            let started = Task { try await PostgresThreadPool.shared.runIfActive { try TestCluster.start(durable: false, serverOptions: "", root: "/tmp") } }
            task = started
            return started
        }
        return try await task.value
    }

    /// A cluster of the calling test's own, for tests that crash or restart the
    /// server (the shared one serves tests running in parallel). Durable commits
    /// (`synchronous_commit` on), so that an immediate shutdown loses nothing that
    /// was acknowledged, as on a real server. Removed at process exit, or earlier
    /// with `destroy()`.
    /// `serverOptions`: more for `pg_ctl -o` (the benchmark's lock limits); `root`:
    /// the folder the cluster's goes in (the benchmark's on tmpfs).
    public static func dedicated(serverOptions: String = "", root: String = "/tmp") async throws -> TestCluster {
        try await PostgresThreadPool.shared.runIfActive { try TestCluster.start(durable: true, serverOptions: serverOptions, root: root) }
    }

    /// Server options for `pg_ctl -o`.
    let serverOptions: String

    private init(directory: String, port: Int, binDirectory: String, osUser: String?, durable: Bool, serverOptions extra: String) {
        self.directory = directory
        self.port = port
        self.binDirectory = binDirectory
        self.osUser = osUser
        // fsync off is safe for a process crash (the OS keeps the pages); an
        // asynchronous commit is not, so only the shared cluster may skip the wait.
        self.serverOptions =
            "-k \(directory) -p \(port) -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=300"
            + (durable ? "" : " -c synchronous_commit=off") + (extra.isEmpty ? "" : " " + extra)
    }

    public var socketDirectory: String { directory }
    public var dataDirectory: String { directory + "/data" }
    public var logFile: String { directory + "/server.log" }
    public var psql: String { binDirectory + "/psql" }

    /// key=value conninfo over the Unix socket.
    public func conninfo(database: String, user: String? = nil) -> String {
        "host=\(socketDirectory) port=\(port) user=\(user ?? superuser) dbname=\(database)"
    }

    /// key=value conninfo over TCP on 127.0.0.1.
    public func tcpConninfo(database: String, user: String? = nil) -> String {
        "host=127.0.0.1 port=\(port) user=\(user ?? superuser) dbname=\(database)"
    }

    public func configuration(database: String, user: String? = nil) -> ConnectionConfiguration {
        ConnectionConfiguration(conninfo: conninfo(database: database, user: user), applicationName: "drover-tests")
    }

    public func connect(database: String = "postgres") async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration(database: database))
    }

    /// Creates a fresh, uniquely named database.
    public func createDatabase(_ prefix: String = "t") async throws -> String {
        let number = counter.withLock { value in
            value += 1
            return value
        }
        let name = "\(prefix)_\(getpid())_\(number)".lowercased()
        let admin = try await connect()
        defer { Task { await admin.close() } }
        try await admin.execute("CREATE DATABASE \(SQLQuoting.identifier(name))")
        return name
    }

    /// Runs SQL in a database, for test setup.
    @discardableResult
    public func run(_ sql: String, database: String) async throws -> QueryResult {
        let connection = try await connect(database: database)
        defer { Task { await connection.close() } }
        return try await connection.execute(sql)
    }

    // MARK: Lifecycle

    private static func start(durable: Bool, serverOptions: String, root: String) throws -> TestCluster {
        removeStaleClusters()
        let binDirectory = try findBinDirectory()
        let osUser = getuid() == 0 ? unprivilegedUser() : nil
        var template = Array("\(root)/drv-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw TestClusterError("mkdtemp failed") }
        let directory = String(cString: template)
        try "\(getpid())".write(toFile: directory + "/owner.pid", atomically: true, encoding: .utf8)
        if let osUser { try shell("chown", "-R", osUser, directory) }
        let port = try freePort()
        let cluster = TestCluster(directory: directory, port: port, binDirectory: binDirectory, osUser: osUser, durable: durable, serverOptions: serverOptions)
        registerCleanup(cluster)
        // Local socket: trust. TCP: scram, so that password handling is tested for real.
        let passwordFile = directory + "/superuser-password"
        try Self.superuserPassword.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        if let osUser { try shell("chown", osUser, passwordFile) }
        try cluster.asServerUser(
            binDirectory + "/initdb", "-D", cluster.dataDirectory, "-U", "postgres", "--auth-local=trust",
            "--auth-host=scram-sha-256", "--pwfile=\(passwordFile)", "-E", "UTF8", "--no-sync", "--locale=C")
        try cluster.startServer()
        return cluster
    }

    private func startServer() throws {
        try asServerUser(binDirectory + "/pg_ctl", "-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-o", serverOptions, "start")
    }

    /// Stops the server at once and removes the directory.
    public func destroy() {
        if FileManager.default.fileExists(atPath: standbyDataDirectory) {
            _ = try? asServerUser(binDirectory + "/pg_ctl", "-D", standbyDataDirectory, "-m", "immediate", "-w", "stop")
        }
        _ = try? asServerUser(binDirectory + "/pg_ctl", "-D", dataDirectory, "-m", "immediate", "-w", "stop")
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `pg_ctl restart -m immediate` in two halves, so that a test can look at its
    /// clients while the server is down: `stopImmediately()` kills every backend
    /// without a checkpoint (a crash), `startAfterCrash()` runs crash recovery.
    public func stopImmediately() async throws {
        try await offThePool { try self.asServerUser(self.binDirectory + "/pg_ctl", "-D", self.dataDirectory, "-m", "immediate", "-w", "stop") }
    }

    public func startAfterCrash() async throws {
        try await offThePool { try self.startServer() }
    }

    func asServerUser(_ arguments: String...) throws {
        try asServerUser(arguments)
    }

    func asServerUser(_ arguments: [String]) throws {
        if let osUser {
            try Self.shell(["runuser", "-u", osUser, "--"] + arguments)
        } else {
            try Self.shell(arguments)
        }
    }

    var standbyDataDirectory: String { directory + "/standby" }

    private static func registerCleanup(_ cluster: TestCluster) {
        let first = cleanupTargets.withLock { targets in
            targets.append(cluster)
            return targets.count == 1
        }
        if first {
            atexit {
                TestCluster.cleanupTargets.withLock { targets in
                    for target in targets { target.destroy() }
                }
            }
        }
    }

    private static let cleanupTargets = Mutex<[TestCluster]>([])

    /// Clusters of test processes that died without cleaning up.
    private static func removeStaleClusters() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/tmp") else { return }
        for entry in entries where entry.hasPrefix("drv-") {
            let directory = "/tmp/" + entry
            guard let text = try? String(contentsOfFile: directory + "/owner.pid", encoding: .utf8),
                let owner = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                kill(owner, 0) != 0 && errno == ESRCH
            else { continue }
            if let pidText = try? String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8),
                let postmaster = Int32(pidText.split(separator: "\n").first ?? "")
            {
                kill(postmaster, SIGQUIT)
                usleep(200_000)
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    private static func findBinDirectory() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["DROVER_PG_BINDIR"] { return configured }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        if let newest = versions.compactMap(Int.init).max(), FileManager.default.fileExists(atPath: "\(root)/\(newest)/bin/initdb") {
            return "\(root)/\(newest)/bin"
        }
        for candidate in ["/usr/local/pgsql/bin", "/usr/bin"] where FileManager.default.fileExists(atPath: candidate + "/initdb") {
            return candidate
        }
        throw TestClusterError("PostgreSQL server binaries not found (install postgresql, or set DROVER_PG_BINDIR)")
    }

    private static func unprivilegedUser() -> String {
        getpwnam("postgres") != nil ? "postgres" : "nobody"
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClusterError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw TestClusterError("bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw TestClusterError("getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func shell(_ arguments: String...) throws { try shell(arguments) }

    static func shell(_ arguments: [String]) throws {
        let result = try Subprocess.run(arguments)
        guard result.status == 0 else {
            throw TestClusterError("\(arguments.joined(separator: " ")) failed (status \(result.status)): \(result.output)\(result.errors)")
        }
    }
}

public struct TestClusterError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
