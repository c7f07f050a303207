import DroverProtocol
import Foundation
import Testing

@Suite("varlink protocol layer")
struct ProtocolTests {
    @Test("the interface descriptions come from the .varlink files and declare one method per droverctl command")
    func interface() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/DroverProtocol")
        let fleet = Interfaces.fleet
        #expect(fleet.text == (try String(contentsOf: folder.appendingPathComponent("io.drover.Fleet.varlink"), encoding: .utf8)))
        #expect(Interfaces.service.text == (try String(contentsOf: folder.appendingPathComponent("org.varlink.service.varlink"), encoding: .utf8)))
        #expect(fleet.name == "io.drover.Fleet" && Interfaces.service.name == "org.varlink.service")
        #expect(
            Set(fleet.methods.keys) == [
                "Status", "Plan", "Promote", "Release", "Deploy", "Pause", "Resume", "Retry", "Revert",
                "Stamp", "Adopt", "History", "Drift", "Windows", "Watch", "Reload", "Cancel",
            ])
        #expect(fleet.methods["Promote"] == ["revision", "to", "force", "reason", "plan_hash"])
        #expect(fleet.methods["Reload"] == [])
        #expect(fleet.methods["Watch"] == ["kinds"])
        #expect(Interfaces.service.methods["GetInterfaceDescription"] == ["interface"])
        #expect(fleet.errors.contains("NotAllowed") && fleet.errors.contains("PromotionRefused"))
    }

    @Test("the Swift lists of methods and errors are exactly what the descriptions declare")
    func declaredAndImplemented() {
        #expect(Set(FleetMethod.allCases.map(\.rawValue)) == Set(Interfaces.fleet.methods.keys))
        #expect(Set(FleetErrorName.allCases.map(\.rawValue)) == Set(Interfaces.fleet.errors))
        #expect(Set(ServiceErrorName.allCases.map(\.rawValue)) == Set(Interfaces.service.errors))
    }

    @Test("each method's parameter type encodes exactly the fields the description declares")
    func parameterTypes() throws {
        func keys(_ value: some Encodable & Sendable) throws -> Set<String> {
            guard case .object(let object) = try JSONDecoder().decode(JSONValue.self, from: Data(VarlinkCodec.encode(value))) else { return [] }
            return Set(object.keys)
        }
        let full: [FleetMethod: any Encodable & Sendable] = [
            .status: FleetParameters.Status(tier: "t", db: "d", state: "failed"),
            .plan: FleetParameters.Plan(revision: "r", to: "t", all: true),
            .history: FleetParameters.History(db: "d"),
            .drift: FleetParameters.None(), .windows: FleetParameters.None(), .watch: FleetParameters.Watch(kinds: ["failed"]), .reload: FleetParameters.None(),
            .promote: FleetParameters.Promote(revision: "r", to: "t", force: true, reason: "x", plan_hash: "h"),
            .release: FleetParameters.Release(revision: "r", tier: "t"),
            .deploy: FleetParameters.Deploy(revision: "r", tier: "t"),
            .pause: FleetParameters.Scope(tier: "t", db: "d"), .resume: FleetParameters.Scope(tier: "t", db: "d"),
            .retry: FleetParameters.Database(db: "d"), .adopt: FleetParameters.Database(db: "d"),
            .revert: FleetParameters.Revert(db: "d", revision: "r"),
            .stamp: FleetParameters.Stamp(db: "d", revision: "r", phase: "expand", reason: "x"),
            .cancel: FleetParameters.Cancel(db: "d", tier: "t", reason: "x"),
        ]
        for method in FleetMethod.allCases {
            let value = try #require(full[method], "no sample for \(method)")
            #expect(try keys(value) == Set(Interfaces.fleet.methods[method.rawValue] ?? []), "\(method)")
        }
    }

    @Test("NUL framing: messages split across reads, several in one read")
    func framing() throws {
        var framer = MessageFramer()
        #expect(try framer.append(Array("{\"method\":".utf8)).isEmpty)
        let messages = try framer.append(Array("\"a\"}\0{\"method\":\"b\"}\0{\"x".utf8))
        #expect(messages.map { String(decoding: $0, as: UTF8.self) } == ["{\"method\":\"a\"}", "{\"method\":\"b\"}"])
        #expect(framer.pending == 3)
    }

    @Test("a message past the limit without its NUL is an error, and the buffer stays bounded")
    func oversize() throws {
        var framer = MessageFramer(maximumLength: 1024)
        #expect(throws: MessageFramer.Failure.messageTooLong(limit: 1024)) {
            _ = try framer.append([UInt8](repeating: 0x41, count: 4096))
        }
        #expect(framer.pending == 0)
    }

    @Test("calls and replies round-trip; bytes that are not JSON are an error")
    func codec() throws {
        let call = VarlinkCall(method: "io.drover.Fleet.Promote", parameters: .object(["revision": .string("3f2a9c1e")]), more: nil)
        let decoded = try VarlinkCodec.decodeCall(try VarlinkCodec.encode(call))
        #expect(decoded == call)
        #expect(decoded.interface == "io.drover.Fleet" && decoded.member == "Promote")
        #expect(decoded.parameters?["revision"]?.string == "3f2a9c1e")
        #expect(throws: VarlinkCodec.Failure.self) { _ = try VarlinkCodec.decodeCall(Array("not json".utf8)) }
        let reply = VarlinkReply(error: "io.drover.Fleet.NotAllowed", continues: nil)
        #expect(try VarlinkCodec.decodeReply(try VarlinkCodec.encode(reply)) == reply)
        #expect(!(try VarlinkCodec.encode(VarlinkReply(parameters: .string("a\u{0}b")))).contains(0))
    }
}
