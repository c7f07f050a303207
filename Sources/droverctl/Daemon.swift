import ArgumentParser
import DroverProtocol
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Talking to droverd: one call, its reply decoded, and every way it can go wrong
/// turned into a message a person can act on and the exit code scripts rely on
/// (1 refused or failed, 3 unreachable).
struct Daemon {
    let options: GlobalOptions

    /// Calls `method` and decodes its reply.
    func call<P: Encodable & Sendable, R: Decodable>(_ method: FleetMethod, _ parameters: P, as reply: R.Type) throws -> R {
        try decode(try exchange(method, parameters), as: reply).parameters
    }

    /// One call and its reply as bytes; a broken connection exits 3.
    private func exchange<P: Encodable & Sendable>(_ method: FleetMethod, _ parameters: P) throws -> [UInt8] {
        let client = try connect()
        do {
            try client.send(method.qualifiedName, parameters)
            return try client.nextMessage()
        } catch {
            throw unreachable("\(error)")
        }
    }

    /// `--json` for a large reply (status of thousands of databases): the reply's
    /// parameters printed as droverd sent them, without decoding and encoding them
    /// again here. droverd writes sorted keys, so a plain reply is exactly
    /// `{"parameters":...}`; anything else (an error) goes the decoding way.
    func printRawParameters<P: Encodable & Sendable, R: Codable>(_ method: FleetMethod, _ parameters: P, as reply: R.Type) throws {
        let message = try exchange(method, parameters)
        let prefix = Array(#"{"parameters":"#.utf8)
        guard message.count > prefix.count + 1, message.starts(with: prefix), message.last == UInt8(ascii: "}") else {
            Output.json(try decode(message, as: reply).parameters)
            return
        }
        Output.line(String(decoding: message[prefix.count..<(message.count - 1)], as: UTF8.self))
    }

    /// A changing call: prints the daemon's message (or `{"message": ...}` with --json).
    func change<P: Encodable & Sendable>(_ method: FleetMethod, _ parameters: P) throws {
        let reply = try call(method, parameters, as: MessageReply.self)
        if options.json { Output.json(reply) } else { Output.line(reply.message) }
    }

    func connect() throws -> VarlinkClient {
        let path = options.socketPath
        do {
            return try VarlinkClient(path: path)
        } catch VarlinkClient.Failure.cannotConnect(_, let code) {
            let hint =
                switch code {
                case EACCES, EPERM: " — is your user in droverd's operators group (fleet.operators_group, default drover)?"
                case ENOENT, ECONNREFUSED: " — is droverd running? If it listens elsewhere, pass --socket or set DROVER_SOCKET."
                default: ""
                }
            throw unreachable("cannot connect to \(path): \(String(cString: strerror(code)))\(hint)")
        } catch {
            throw unreachable("\(error)")
        }
    }

    /// A reply's typed parameters; an error reply is printed and exits 1.
    func decode<R: Decodable>(_ message: [UInt8], as reply: R.Type) throws -> TypedReply<R> {
        let result: DecodedReply<R>
        do {
            result = try VarlinkCodec.decodeReply(message, as: reply)
        } catch {
            throw unreachable("droverd's reply is not what this droverctl expects (\(error)); are both the same version?")
        }
        switch result {
        case .reply(let typed):
            return typed
        case .error(let answer):
            let error = answer.error ?? "unknown"
            if options.json { Output.json(ErrorOutput(error: error, parameters: answer.parameters)) }
            Output.error(Self.describe(error: error, parameters: answer.parameters))
            throw ExitCode(ExitStatus.failed)
        }
    }

    /// One line for a varlink error: drover's own carry a message; the standard
    /// ones name what was wrong.
    static func describe(error: String, parameters: JSONValue?) -> String {
        if let message = parameters?["message"]?.string { return "droverctl: \(message)" }
        let detail =
            parameters?["parameter"]?.string.map { "parameter \($0)" }
            ?? parameters?["method"]?.string ?? parameters?["interface"]?.string
        return "droverctl: droverd answered \(error)" + (detail.map { ": \($0)" } ?? "")
    }

    private func unreachable(_ message: String) -> ExitCode {
        Output.error("droverctl: \(message)")
        return ExitCode(ExitStatus.unreachable)
    }

    struct ErrorOutput: Encodable {
        var error: String
        var parameters: JSONValue?
    }
}
