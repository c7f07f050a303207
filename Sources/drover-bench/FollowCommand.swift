import ArgumentParser
import DroverProtocol
import Foundation

/// Follows droverd's `applied` and `failed` events from before a timed change and
/// prints the moment (ns since the epoch) at which `--count` databases had applied
/// `--phase` of `--revision`. Only those two kinds: with `start` events too, droverd
/// would encode, and this reader decode, twice as many on the machine being
/// measured. A `dropped` event (this reader fell behind) or 10 s of quiet ends the
/// watch without a time; the script then times from the tracking rows.
struct FollowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Print when COUNT databases applied a phase of a revision, from droverd's events."
    )

    @OptionGroup var socket: SocketOption

    @Option(help: ArgumentHelp("The revision.", valueName: "id"))
    var revision: String

    @Option(help: "The phase.")
    var phase: String

    @Option(help: "How many databases.")
    var count: Int

    func run() throws {
        let client = try VarlinkClient(path: socket.socket, receiveTimeout: .seconds(10))
        try client.send(FleetMethod.watch.qualifiedName, FleetParameters.Watch(kinds: ["applied", "failed"]), more: true)
        var seen = Set<String>()
        defer { Self.reportCPU() }
        while true {
            guard let message = try? client.nextMessage() else { return Self.note("the rollout went quiet for 10 s; timing from the tracking rows") }
            guard case .reply(let reply) = try VarlinkCodec.decodeReply(message, as: WatchReply.self) else { return }
            let event = reply.parameters.event
            switch event.kind {
            case "dropped":
                return Self.note("the watcher fell behind (\(event.message)); timing from the tracking rows")
            case "failed":
                Self.note("a phase failed: \(event.database ?? "?"): \(event.message)")
            case "applied" where event.revision == revision && event.phase?.rawValue == phase:
                seen.insert(event.database ?? "")
                if seen.count == count {
                    print(UInt64(Date().timeIntervalSince1970 * 1e9))
                    return
                }
            default:
                break
            }
        }
    }

    static func note(_ text: String) {
        FileHandle.standardError.write(Data("bench: \(text)\n".utf8))
    }

    /// What following the events cost the machine.
    static func reportCPU() {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let seconds = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        note(String(format: "the watcher used %.1f CPU s", seconds))
    }
}
