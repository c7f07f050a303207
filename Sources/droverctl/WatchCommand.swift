import ArgumentParser
import DroverProtocol

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print the daemon's events as they happen, until Ctrl-C.",
        discussion: "Phases started, finished and failed, promotions, releases, pauses, waves. --json prints one JSON object per line."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let daemon = Daemon(options: global)
        let client = try daemon.connect()
        do {
            try client.send(FleetMethod.watch.qualifiedName, FleetParameters.None(), more: true)
        } catch {
            Output.error("droverctl: \(error)")
            throw ExitCode(ExitStatus.unreachable)
        }
        while true {
            let message: [UInt8]
            do {
                message = try client.nextMessage()
            } catch {
                Output.error("droverctl: \(error)")
                throw ExitCode(ExitStatus.unreachable)
            }
            let answer = try daemon.decode(message, as: WatchReply.self)
            let event = answer.parameters.event
            if global.json {
                Output.json(event, pretty: false)
            } else {
                let subject = [event.tier, event.database, event.revision.map(Format.revision), event.phase?.rawValue].compactMap { $0 }.joined(separator: " ")
                Output.line("\(Format.time(event.at)) \(event.kind)\(subject.isEmpty ? "" : " " + subject): \(event.message)")
            }
            guard answer.continues == true else { return }
        }
    }
}
