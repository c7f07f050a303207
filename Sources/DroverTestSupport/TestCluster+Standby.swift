import DroverPostgres
import Foundation

extension TestCluster {
    /// A streaming replica of this cluster: `pg_basebackup -R` into a second data
    /// directory, started on a port of its own with the same socket directory.
    /// Hot standby, so tests can pause its replay (`pg_wal_replay_pause()`). Stopped
    /// and removed with the cluster. Reporting every second, so the primary's
    /// `replay_lag` follows closely.
    public func startStandby() async throws -> Standby {
        try await offThePool {
            let port = try Self.freePort()
            try self.asServerUser(
                self.binDirectory + "/pg_basebackup", "-D", self.standbyDataDirectory, "-R", "-X", "stream", "-c", "fast",
                "-h", self.socketDirectory, "-p", String(self.port), "-U", self.superuser)
            // The primary's options (a hot standby needs at least its connection and
            // lock limits), on another port and without TCP.
            let options = self.serverOptions.replacingOccurrences(of: "-p \(self.port)", with: "-p \(port)")
                .replacingOccurrences(of: "listen_addresses=127.0.0.1", with: "listen_addresses=''")
            try self.asServerUser(
                self.binDirectory + "/pg_ctl", "-D", self.standbyDataDirectory, "-l", self.directory + "/standby.log", "-w", "-t", "60", "-o",
                options + " -c hot_standby=on -c wal_receiver_status_interval=1s", "start")
            return Standby(cluster: self, port: port)
        }
    }

    /// A running standby of a `TestCluster`.
    public struct Standby: Sendable {
        public let cluster: TestCluster
        public let port: Int

        public func connect(database: String = "postgres") async throws -> PostgresConnection {
            try await PostgresConnection.connect(
                ConnectionConfiguration(
                    conninfo: "host=\(cluster.socketDirectory) port=\(port) user=\(cluster.superuser) dbname=\(database)",
                    applicationName: "drover-tests"))
        }
    }
}
