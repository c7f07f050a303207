import DroverProtocol
import Foundation
import Testing

@Suite("varlink protocol layer")
struct ProtocolTests {
    @Test("the interface description comes from the .varlink file and declares one method per droverctl command")
    func interface() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/DroverProtocol/io.drover.Fleet.varlink")
        #expect(FleetInterface.description == (try String(contentsOf: file, encoding: .utf8)))
        #expect(FleetInterface.description.contains("interface io.drover.Fleet\n"))
        #expect(Set(FleetInterface.methods) == [
            "Status", "Plan", "Promote", "Release", "Deploy", "Pause", "Resume", "Retry", "Revert",
            "Stamp", "Adopt", "History", "Drift", "Windows", "Watch", "Reload",
        ])
        #expect(FleetInterface.errors.contains("NotAllowed") && FleetInterface.errors.contains("PromotionRefused"))
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
