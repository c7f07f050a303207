import ArgumentParser
import DroverTestSupport
import Foundation

/// Starts a throwaway cluster (`TestCluster`, the tests' own), writes where it is
/// as shell assignments, and removes it when its standard input closes: the script
/// holds the other end, so the cluster goes with the script however that ends.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Start a throwaway PostgreSQL cluster; remove it when standard input closes."
    )

    @Option(help: ArgumentHelp("More server options (pg_ctl -o).", valueName: "options"))
    var serverOptions = ""

    @Option(help: ArgumentHelp("The folder the cluster's folder goes in (tmpfs: /dev/shm).", valueName: "path"))
    var root = "/tmp"

    @Option(help: ArgumentHelp("Where to write PGC_DIR, PGC_PORT, PGC_BIN and PGC_PSQL.", valueName: "path"))
    var environmentFile: String

    func run() async throws {
        let cluster = try await TestCluster.dedicated(serverOptions: serverOptions, root: root)
        let assignments = [
            "PGC_DIR=\(cluster.socketDirectory)", "PGC_PORT=\(cluster.port)", "PGC_BIN=\(cluster.binDirectory)", "PGC_PSQL=\(cluster.psql)",
        ]
        // Written whole, then renamed: the script waits for the file to exist.
        try (assignments.joined(separator: "\n") + "\n").write(toFile: environmentFile, atomically: true, encoding: .utf8)
        while FileHandle.standardInput.availableData.count > 0 {}
        cluster.destroy()
    }
}
