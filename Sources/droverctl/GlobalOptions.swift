import ArgumentParser

/// Options every command accepts (SPEC §8), after the command name.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Control socket of droverd (default: $DROVER_SOCKET, else the manifest's fleet.socket).", valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print the raw result as JSON.")
    var json = false
}
