import ArgumentParser

/// The parts of `scripts/bench` that speak drover's protocol or set up its
/// server, in Swift: they reuse `VarlinkClient`, the reply types and `TestCluster`,
/// so a protocol change breaks the build instead of skewing a timing. The psql and
/// xargs baselines stay in the script.
@main
struct BenchProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drover-bench",
        abstract: "Helpers of scripts/bench: a throwaway cluster, waiting on status, following events, READY=1.",
        subcommands: [ClusterCommand.self, WaitCommand.self, FollowCommand.self, ReadyCommand.self]
    )
}

/// Where droverd's control socket is.
struct SocketOption: ParsableArguments {
    @Option(help: ArgumentHelp("droverd's control socket.", valueName: "path"))
    var socket: String
}
