import ArgumentParser
import DroverProtocol
import Foundation

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print the daemon's events as they happen, until Ctrl-C.",
        discussion: """
            Phases started, finished and failed, promotions, releases, pauses, waves. --json prints one JSON object per line.
            --kind keeps only events of that kind (repeat it, or separate kinds with commas): start, applied, failed, cancel (a \
            phase is being cancelled), cancelled (it stopped), halt, wave-finished, throttled, throttle-lifted, release-waiting \
            (what release_when waits for changed), drift, drift-cleared, reloading, reload-failed, leader, follower, and one per \
            command (promote, release, pause, ...). \
            A `dropped` notice (this watcher read too slowly) always comes.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("kind"), help: "Only events of this kind (repeatable; or a comma-separated list).")
    var kinds: [String] = []

    /// The kinds asked for, one per element; `nil` when --kind was not given.
    private var requestedKinds: [String]? {
        guard !kinds.isEmpty else { return nil }
        return kinds.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
    }

    func validate() throws {
        // `--kind ""` asks for nothing: refused, as droverd refuses `kinds: []`,
        // rather than read as "every kind".
        if requestedKinds?.isEmpty == true { throw ValidationError("--kind needs at least one event kind (say start, applied, failed, ...)") }
    }

    func run() throws {
        let daemon = Daemon(options: global)
        let client = try daemon.connect()
        do {
            try client.send(FleetMethod.watch.qualifiedName, FleetParameters.Watch(kinds: requestedKinds), more: true)
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
