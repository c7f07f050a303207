import ArgumentParser
import Foundation

/// Options every command accepts (docs/cli.md), after the command name.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "droverd's control socket (default: $DROVER_SOCKET, else /run/drover/control.sock when it exists, else .drover/control.sock).",
            valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print the raw result as JSON.")
    var json = false

    /// The socket to talk to, in the order the help text gives.
    var socketPath: String {
        if let socket { return socket }
        if let variable = ProcessInfo.processInfo.environment["DROVER_SOCKET"], !variable.isEmpty { return variable }
        if FileManager.default.fileExists(atPath: Self.systemSocket) { return Self.systemSocket }
        return ".drover/control.sock"
    }

    static let systemSocket = "/run/drover/control.sock"
}
