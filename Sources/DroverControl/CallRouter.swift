import DroverCore
import DroverDaemon
import DroverProtocol
import Foundation

/// Answers one varlink call: finds the method, checks the caller's role and the
/// parameters against the interface description, and runs the fleet's internal API.
/// Every refusal is a named error; nothing here throws past the connection.
struct CallRouter: Sendable {
    let fleet: Fleet
    let version: String

    enum Answer: Sendable {
        case reply([UInt8])
        /// Events until the client hangs up (`Watch`), each sent as `streamed(_:)`.
        /// No queue of its own: the connection writes one event at a time, so a
        /// client that stops reading fills the fleet's bounded queue for it.
        case stream(AsyncStream<FleetEvent>)
    }

    func answer(_ call: VarlinkCall, from peer: PeerIdentity, role: Role, operatorsGroup: String) async -> Answer {
        do {
            switch call.interface {
            case ServiceErrorName.interface:
                return .reply(try serviceCall(call))
            case FleetMethod.interface:
                guard let method = FleetMethod(rawValue: call.member) else {
                    throw ErrorReply(.methodNotFound, ["method": .string(call.method)])
                }
                try checkParameterNames(call, declared: Interfaces.fleet.methods[method.rawValue] ?? [])
                if method.changesFleet && role != .operator {
                    let refusal = ErrorReply.notAllowed(method, peer: peer, group: operatorsGroup)
                    await fleet.auditRefusal(method.rawValue.lowercased(), Self.auditParameters(call), reason: refusal.message, by: peer.caller)
                    throw refusal
                }
                if method.needsLeader, case .follower(let leader) = await fleet.role {
                    let refusal = ErrorReply.notLeader(method, leader: leader)
                    await fleet.auditRefusal(method.rawValue.lowercased(), Self.auditParameters(call), reason: refusal.message, by: peer.caller)
                    throw refusal
                }
                if method.streams {
                    guard call.more == true else { throw ErrorReply(.expectedMore) }
                    let kinds = try decode(FleetParameters.Watch.self, call).kinds
                    // An empty list would watch nothing, silently.
                    if kinds?.isEmpty == true { throw ErrorReply(.invalidParameter, ["parameter": .string("kinds")]) }
                    return .stream(await fleet.events(kinds: kinds.map(Set.init)))
                }
                do {
                    return .reply(try await fleetCall(method, call, caller: peer.caller))
                } catch let error as FleetError {
                    if method.changesFleet {
                        await fleet.auditRefusal(method.rawValue.lowercased(), Self.auditParameters(call), reason: error.description, by: peer.caller)
                    }
                    throw ErrorReply.from(error)
                }
            default:
                throw ErrorReply(.interfaceNotFound, ["interface": .string(call.interface)])
            }
        } catch let error as ErrorReply {
            return .reply(error.encoded())
        } catch {
            return .reply(ErrorReply.protocolError("cannot answer \(call.method): \(error)").encoded())
        }
    }

    // MARK: org.varlink.service

    private func serviceCall(_ call: VarlinkCall) throws -> [UInt8] {
        switch call.member {
        case "GetInfo":
            struct Info: Encodable, Sendable {
                var vendor, product, version, url: String
                var interfaces: [String]
            }
            return try reply(Info(vendor: "drover", product: "droverd", version: version, url: "", interfaces: Interfaces.all.map(\.name)))
        case "GetInterfaceDescription":
            struct Parameters: Decodable { var interface: String }
            struct Description: Encodable, Sendable { var description: String }
            try checkParameterNames(call, declared: ["interface"])
            let name = try decode(Parameters.self, call).interface
            guard let interface = Interfaces.all.first(where: { $0.name == name }) else {
                throw ErrorReply(.interfaceNotFound, ["interface": .string(name)])
            }
            return try reply(Description(description: interface.text))
        default:
            throw ErrorReply(.methodNotFound, ["method": .string(call.method)])
        }
    }

    // MARK: io.drover.Fleet

    private func fleetCall(_ method: FleetMethod, _ call: VarlinkCall, caller: Caller) async throws -> [UInt8] {
        switch method {
        case .status:
            let p = try decode(FleetParameters.Status.self, call)
            if let tier = p.tier { try await fleet.checkTier(tier) }
            if let db = p.db { try await fleet.checkDatabase(db) }
            let state = try p.state.map { word in
                guard let state = DatabaseStateWord(rawValue: word) else {
                    throw FleetError.invalidParameter(
                        "state", reason: "unknown state \(word) (\(DatabaseStateWord.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return state
            }
            return try await fleet.status(tier: p.tier, database: p.db, state: state).varlinkReply()
        case .plan:
            let p = try decode(FleetParameters.Plan.self, call)
            return try reply(try await fleet.plan(p.revision, to: p.to, all: p.all ?? false))
        case .history:
            let p = try decode(FleetParameters.History.self, call)
            let entries = try await fleet.history(p.db).reversed().map {  // newest first, as declared
                HistoryRow(
                    database: $0.database, revision: $0.revision, phase: $0.phase, outcome: $0.outcome, started_at: $0.startedAt,
                    finished_at: $0.finishedAt, rows: $0.rows, error: $0.error, actor: $0.actor, output: $0.output)
            }
            return try reply(HistoryReply(entries: entries))
        case .drift:
            _ = try decode(FleetParameters.None.self, call)
            return try reply(DriftReply(databases: await fleet.drift()))
        case .windows:
            _ = try decode(FleetParameters.None.self, call)
            return try reply(WindowsReply(windows: await fleet.windows()))
        case .watch:
            throw ErrorReply(.methodNotImplemented, ["method": .string(call.method)])  // streamed above
        case .promote:
            let p = try decode(FleetParameters.Promote.self, call)
            return try message(try await fleet.promote(p.revision, to: p.to, force: p.force ?? false, reason: p.reason, planHash: p.plan_hash, by: caller))
        case .release:
            let p = try decode(FleetParameters.Release.self, call)
            return try message(try await fleet.release(p.revision, tier: p.tier, by: caller))
        case .deploy:
            let p = try decode(FleetParameters.Deploy.self, call)
            return try message(try await fleet.deploy(p.revision, tier: p.tier, by: caller))
        case .pause:
            let p = try decode(FleetParameters.Scope.self, call)
            return try message(try await fleet.pause(tier: p.tier, database: p.db, by: caller))
        case .resume:
            let p = try decode(FleetParameters.Scope.self, call)
            return try message(try await fleet.resume(tier: p.tier, database: p.db, by: caller))
        case .cancel:
            let p = try decode(FleetParameters.Cancel.self, call)
            return try message(try await fleet.cancel(tier: p.tier, database: p.db, reason: p.reason, by: caller))
        case .retry:
            let p = try decode(FleetParameters.Database.self, call)
            return try message(try await fleet.retry(p.db, by: caller))
        case .revert:
            let p = try decode(FleetParameters.Revert.self, call)
            return try message(try await fleet.revert(p.db, revision: p.revision, by: caller))
        case .stamp:
            let p = try decode(FleetParameters.Stamp.self, call)
            var phase: Phase?
            if let name = p.phase {
                guard let parsed = Phase(rawValue: name), parsed != .revert else {
                    throw FleetError.invalidParameter("phase", reason: "unknown phase \(name) (expand, backfill or contract)")
                }
                phase = parsed
            }
            return try message(try await fleet.stamp(p.db, revision: p.revision, phase: phase, reason: p.reason, by: caller))
        case .adopt:
            let p = try decode(FleetParameters.Database.self, call)
            return try message(try await fleet.adopt(p.db, by: caller))
        case .reload:
            _ = try decode(FleetParameters.None.self, call)
            return try message(try await fleet.reload(by: caller))
        }
    }

    /// One event of a `Watch`, as its reply.
    static func streamed(_ event: FleetEvent) -> [UInt8]? {
        try? VarlinkCodec.encode(OutgoingReply(parameters: WatchReply(event: event), continues: true))
    }

    // MARK: Parameters and replies

    /// Fields the method does not declare are refused, not ignored: a misspelt
    /// `--tier` must not widen a pause to the whole fleet.
    private func checkParameterNames(_ call: VarlinkCall, declared: [String]) throws(ErrorReply) {
        switch call.parameters {
        case nil, .null:
            return
        case .object(let fields):
            if let unknown = fields.keys.sorted().first(where: { !declared.contains($0) }) {
                throw ErrorReply(.invalidParameter, ["parameter": .string(unknown)])
            }
        default:
            throw ErrorReply(.invalidParameter, ["parameter": .string("parameters")])
        }
    }

    private func decode<P: Decodable>(_ type: P.Type, _ call: VarlinkCall) throws(ErrorReply) -> P {
        do {
            return try VarlinkCodec.decode(type, from: call.parameters)
        } catch let error as DecodingError {
            let parameter: String? =
                switch error {
                case .keyNotFound(let key, _): key.stringValue
                case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context): context.codingPath.first?.stringValue
                @unknown default: nil
                }
            throw ErrorReply(.invalidParameter, ["parameter": .string(parameter ?? "parameters")])
        } catch {
            throw ErrorReply(.invalidParameter, ["parameter": .string("parameters")])
        }
    }

    private func reply<P: Encodable & Sendable>(_ parameters: P) throws -> [UInt8] {
        try VarlinkCodec.encode(OutgoingReply(parameters: parameters))
    }

    private func message(_ text: String) throws -> [UInt8] {
        try reply(MessageReply(message: text))
    }

    /// Parameters for the audit log: strings as they are, others as JSON text.
    /// Calls carry no secrets (passwords live in files the manifest names).
    static func auditParameters(_ call: VarlinkCall) -> [String: String] {
        guard case .object(let fields)? = call.parameters else { return [:] }
        return fields.mapValues { value in
            value.string ?? (try? VarlinkCodec.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        }
    }
}

extension PeerIdentity {
    var caller: Caller { Caller(uid: uid, gid: gid, pid: pid, user: user) }
}
