import DroverProtocol
import DroverTestSupport
import Foundation
import Testing

/// A raw varlink call: the JSON as given, with its NUL.
private func raw(_ json: String) -> [UInt8] { Array(json.utf8) + [0] }

extension Isolated {
    @Suite("the control socket under bad and hostile input")
    struct ProtocolAbuseTests {
        @Test("oversized, not JSON, unknown method or interface, wrong types, unknown fields: named errors, and the daemon serves on")
        func badInput() async throws {
            let fixture = try await FleetFixture.make(tenants: ["acme"])
            defer { fixture.remove() }
            let daemon = try await RunningDaemon.start(fixture)
            defer { daemon.kill() }
            let bystander = try daemon.client()

            // 2 MiB without a terminator: ProtocolError, then the connection is closed.
            let flood = try daemon.client()
            try? await flood.send(raw: [UInt8](repeating: UInt8(ascii: "a"), count: 2 << 20))
            let tooLong = try await flood.reply()
            #expect(tooLong.error == "io.drover.Fleet.ProtocolError")
            #expect(tooLong.message?.contains("longer than 1048576 bytes") == true)
            await #expect(throws: VarlinkClient.Failure.self) { _ = try await flood.reply() }

            let garbage = try daemon.client()
            try await garbage.send(raw: raw("{not json"))
            #expect(try await garbage.reply().error == "io.drover.Fleet.ProtocolError")
            await #expect(throws: VarlinkClient.Failure.self) { _ = try await garbage.reply() }

            // Errors about the call itself leave the connection open.
            let client = try daemon.client()
            try await client.send(raw: raw(#"{"method": "io.drover.Fleet.Explode"}"#))
            let notFound = try await client.reply()
            #expect(notFound.error == "org.varlink.service.MethodNotFound" && notFound.parameters?["method"]?.string == "io.drover.Fleet.Explode")
            try await client.send(raw: raw(#"{"method": "com.example.Other.Call"}"#))
            #expect(try await client.reply().error == "org.varlink.service.InterfaceNotFound")
            try await client.send(raw: raw(#"{"method": "io.drover.Fleet.Status", "parameters": {"tier": 5}}"#))
            let wrongType = try await client.reply()
            #expect(wrongType.error == "org.varlink.service.InvalidParameter" && wrongType.parameters?["parameter"]?.string == "tier")
            try await client.send(raw: raw(#"{"method": "io.drover.Fleet.Pause", "parameters": {"teir": "tenants"}}"#))
            let misspelt = try await client.reply()
            #expect(misspelt.error == "org.varlink.service.InvalidParameter" && misspelt.parameters?["parameter"]?.string == "teir")
            try await client.send(raw: raw(#"{"method": "io.drover.Fleet.Promote", "parameters": {}}"#))
            #expect(try await client.reply().parameters?["parameter"]?.string == "revision")
            try await client.send(raw: raw(#"{"method": "io.drover.Fleet.Watch"}"#))
            #expect(try await client.reply().error == "org.varlink.service.ExpectedMore")
            // A watch for no kind at all would be silent forever: refused, as is a wrong type.
            for kinds in ["[]", #""failed""#] {
                try await client.send(raw: raw(#"{"method": "io.drover.Fleet.Watch", "more": true, "parameters": {"kinds": "# + kinds + "}}"))
                let refused = try await client.reply()
                #expect(refused.error == "org.varlink.service.InvalidParameter" && refused.parameters?["parameter"]?.string == "kinds", "\(kinds)")
            }
            let status = try await client.request(FleetMethod.status.qualifiedName, FleetParameters.Status())
            #expect(status.error == nil && status.parameters?["databases"] != nil)

            // Meanwhile the first connection was never disturbed.
            #expect(try await bystander.request(FleetMethod.status.qualifiedName, FleetParameters.Status(tier: "preview")).error == nil)
            // Nothing above changed the fleet: the misspelt pause paused nothing.
            #expect(try await daemon.json(FleetStatus.self, "status").tiers.allSatisfy { $0.state != "paused" })
        }

        @Test("the service interface describes itself with the .varlink text; oneway calls act without a reply")
        func serviceInterfaceAndOneway() async throws {
            let fixture = try await FleetFixture.make(tenants: ["acme"])
            defer { fixture.remove() }
            let daemon = try await RunningDaemon.start(fixture)
            defer { daemon.kill() }
            let client = try daemon.client()

            let info = try await client.request("org.varlink.service.GetInfo", FleetParameters.None())
            #expect(info.parameters?["product"]?.string == "droverd")
            #expect(info.parameters?["interfaces"] == .array([.string("org.varlink.service"), .string("io.drover.Fleet")]))
            struct Interface: Encodable, Sendable { var interface: String }
            let description = try await client.request("org.varlink.service.GetInterfaceDescription", Interface(interface: "io.drover.Fleet"))
            #expect(description.parameters?["description"]?.string == Interfaces.fleet.text)
            #expect(
                try await client.request("org.varlink.service.GetInterfaceDescription", Interface(interface: "no.such")).error
                    == "org.varlink.service.InterfaceNotFound")

            // A oneway pause gets no reply: the next reply on the connection is Status's.
            try client.send(FleetMethod.pause.qualifiedName, FleetParameters.Scope(tier: "tenants"), oneway: true)
            let status = try VarlinkCodec.decode(
                FleetStatus.self, from: try await client.request(FleetMethod.status.qualifiedName, FleetParameters.Status()).parameters)
            #expect(status.tier("tenants")?.state == "paused")
        }

        @Test("idle and half-sent connections are closed after the idle timeout; connection caps hold and free up")
        func limits() async throws {
            let fixture = try await FleetFixture.make(tenants: ["acme"])
            defer { fixture.remove() }
            let daemon = try await RunningDaemon.start(fixture, arguments: ["--idle-timeout", "5s", "--max-connections", "4"])
            defer { daemon.kill() }

            let silent = try daemon.client()
            let trickle = try daemon.client()
            // Half a message is not activity (on a loaded machine the connection may
            // even be closed before these bytes arrive).
            try? await trickle.send(raw: Array(#"{"method": "io.drover.Fleet.Sta"#.utf8))
            let started = ContinuousClock.now
            await #expect(throws: VarlinkClient.Failure.self) { _ = try await silent.reply() }
            await #expect(throws: VarlinkClient.Failure.self) { _ = try await trickle.reply() }
            #expect(ContinuousClock.now - started < .seconds(20))

            // Four open connections (the cap); a fifth is told so and closed. Each asks
            // right after connecting, and asks something that reads no database: opened
            // together behind three `drift` calls, the last once idled past the timeout
            // on a loaded machine.
            var open: [VarlinkClient] = []
            for _ in 0..<4 {
                let client = try daemon.client()
                #expect(try await client.request("org.varlink.service.GetInfo", FleetParameters.None()).error == nil)
                open.append(client)
            }
            let fifth = try daemon.client()
            let refused = try await fifth.reply()
            #expect(refused.error == "io.drover.Fleet.TooManyConnections" && refused.parameters?["scope"]?.string == "total")
            // Idle ones time out and make room again.
            #expect(
                try await eventually(timeout: .seconds(15)) {
                    (try? daemon.client().call(FleetMethod.drift.qualifiedName, FleetParameters.None()).error) == .some(nil)
                })
            withExtendedLifetime(open) {}  // the four stay open until the daemon closes them
        }
    }
}
