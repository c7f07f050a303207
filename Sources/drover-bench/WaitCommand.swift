import ArgumentParser
import DroverProtocol
import Foundation

/// Polls status until every database is current with `--field` at `--revision`.
/// For set-up only: a 10,000-row status is work for the daemon being measured.
struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until every database is current at a revision (exit 2: a phase failed; 1: timed out)."
    )

    enum Field: String, ExpressibleByArgument {
        case expanded, contracted
    }

    @OptionGroup var socket: SocketOption

    @Option(help: "The revision column to compare: expanded or contracted.")
    var field: Field

    @Option(help: ArgumentHelp("The revision every database must be at.", valueName: "id"))
    var revision: String

    @Option(help: ArgumentHelp("Only the databases of this tier.", valueName: "tier"))
    var tier: String?

    @Option(help: ArgumentHelp("Seconds between polls.", valueName: "seconds"))
    var every = 2.0

    @Option(help: ArgumentHelp("Give up after this many seconds.", valueName: "seconds"))
    var timeout = 1800.0

    func run() throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = try? Self.status(socket.socket, tier: tier) {
                if let failed = status.databases.first(where: { $0.state == .failed }) {
                    FileHandle.standardError.write(Data("bench: a phase failed: \(failed.name): \(failed.error ?? "")\n".utf8))
                    throw ExitCode(2)
                }
                let at = status.databases.allSatisfy { ($0.state == .current) && (field == .expanded ? $0.expanded : $0.contracted) == revision }
                if !status.databases.isEmpty && at { return }
            }
            Thread.sleep(forTimeInterval: every)
        }
        FileHandle.standardError.write(Data("bench: the fleet was not at \(revision) within \(Int(timeout)) s\n".utf8))
        throw ExitCode(1)
    }

    static func status(_ socket: String, tier: String? = nil) throws -> FleetStatus {
        let client = try VarlinkClient(path: socket, receiveTimeout: .seconds(60))
        try client.send(FleetMethod.status.qualifiedName, FleetParameters.Status(tier: tier))
        guard case .reply(let reply) = try VarlinkCodec.decodeReply(try client.nextMessage(), as: FleetStatus.self) else {
            throw ValidationError("droverd answered status with an error")
        }
        return reply.parameters
    }
}
