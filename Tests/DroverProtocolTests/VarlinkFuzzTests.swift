import DroverProtocol
import DroverTestSupport
import Testing

/// The control socket's decoding path (framer, then the call decoder, then typed
/// parameters) must answer any byte stream with a value or an error: never a
/// crash, never unbounded memory, never a hang.
@Suite("Varlink decoder fuzzing")
struct VarlinkFuzzTests {
    static let seeds = [
        #"{"method":"io.drover.Fleet.Promote","parameters":{"revision":"3f2a9c1e","to":"production","force":false,"reason":null}}"#,
        #"{"method":"io.drover.Fleet.Status","parameters":{"tier":"tenants","db":null}}"#,
        #"{"method":"io.drover.Fleet.Watch","more":true}"#,
        #"{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.drover.Fleet"},"oneway":true}"#,
    ]
    static let tokens = [
        "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u0000", "\\ud800", "null", "true", "1e999", "-0", "\u{0}", "method", "parameters", "more", "oneway", "é",
        "🙂", " ", "\n",
    ]

    @Test("random and mutated byte streams decode to a call or an error, in random chunks, the buffer never past its bound")
    func decoderFuzz() throws {
        #expect(try VarlinkCodec.decodeCall(Array(Self.seeds[0].utf8)).method == "io.drover.Fleet.Promote")
        var chunking = SeededGenerator(state: 7)
        var framer = MessageFramer(maximumLength: 4096)
        let report = Fuzz.run(seed: 0x7A51_11CC, rounds: Fuzz.rounds(default: 20_000), seeds: Self.seeds, tokens: Self.tokens) { text in
            var bytes = Array(text.utf8) + [0]
            while !bytes.isEmpty {
                let size = Int.random(in: 1...max(1, bytes.count), using: &chunking)
                let messages: [[UInt8]]
                do {
                    messages = try framer.append(bytes.prefix(size))
                } catch {
                    #expect(framer.pending == 0)
                    messages = []
                }
                bytes.removeFirst(size)
                #expect(framer.pending <= 4096)
                for message in messages {
                    guard let call = try? VarlinkCodec.decodeCall(message) else { continue }
                    _ = try? VarlinkCodec.decode(FleetParameters.Promote.self, from: call.parameters)
                    _ = try? VarlinkCodec.decode(FleetParameters.Status.self, from: call.parameters)
                }
            }
        }
        #expect(report.slowest < .seconds(5), "\(report)")
    }
}
