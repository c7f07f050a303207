import DroverCore
import DroverProtocol
import Foundation
import Testing

@Suite("Status reply written by hand")
struct StatusEncodingTests {
    static let awkward = [
        "plain", "quote \" and backslash \\", "slash / and tab \t newline \n return \r", "bell \u{07} escape \u{1B} unit \u{1F} del \u{7F}",
        "ünïcødé ☃ 🐘", "\u{2028}\u{2029}", "\u{08}\u{0C}", "",
    ]

    @Test("the bytes equal the codec's for every kind of value, with and without instances")
    func sameBytesAsTheCodec() throws {
        var rows: [FleetStatus.DatabaseRow] = []
        for (index, text) in Self.awkward.enumerated() {
            rows.append(
                FleetStatus.DatabaseRow(
                    name: "db-\(index) \(text)", tier: "tenants", wave: index.isMultiple(of: 2) ? "canary" : nil, server: "h:5432",
                    schema: index == 1 ? nil : text,
                    expanded: "r\(index)", contracted: nil, target: text, state: DatabaseStateWord.allCases[index % DatabaseStateWord.allCases.count],
                    next_window: "2026-12-02T02:00:00+00:00", error: index == 3 ? text : nil, alembic: index == 4 ? "a1,b2" : nil,
                    throttled: index == 2 ? "replica lag 3s > 2s (\"standby\")" : nil))
        }
        let tiers = [
            FleetStatus.TierRow(name: "tenants", target: "r2", released: nil, state: "rolling", wave: "canary", failed: ["db-1", Self.awkward[1]]),
            FleetStatus.TierRow(
                name: "preview", target: nil, released: "r1", state: "idle", wave: nil, failed: [], release_waiting_on: "preview: 2 sessions of r0"),
        ]
        let plain = FleetStatus(databases: rows, tiers: tiers, state_store_error: "disk \"full\"")
        #expect(try plain.varlinkReply() == (try VarlinkCodec.encode(OutgoingReply(parameters: plain))))
        let shared = FleetStatus(
            databases: [], tiers: tiers, state_store_error: nil,
            leader: FleetStatus.LeaderRow(instance: "vm:1:ab", host: "vm", pid: 1, since: "2026-12-02T01:00:00+00:00", term: 3),
            instances: [FleetStatus.InstanceRow(id: "vm:1:ab", host: "vm", pid: 1, role: "leader", started_at: "x", heartbeat_at: "y", this: true)])
        #expect(try shared.varlinkReply() == (try VarlinkCodec.encode(OutgoingReply(parameters: shared))))
        let leaderless = FleetStatus(databases: rows, tiers: [], instances: [])
        #expect(try leaderless.varlinkReply() == (try VarlinkCodec.encode(OutgoingReply(parameters: leaderless))))
    }

    @Test("a large reply is reserved once, about its own size: no overshoot for thousands of rows and several tiers")
    func reservedAboutItsSize() throws {
        let rows = (0..<5_000).map { index in
            FleetStatus.DatabaseRow(
                name: "t\(index)", tier: "tenants", wave: "all", server: "h:5432", schema: "t\(index)", expanded: "r1", contracted: "r1", target: "r1",
                state: .current, next_window: nil, error: nil, alembic: nil)
        }
        let tiers = ["preview", "production", "tenants"].map {
            FleetStatus.TierRow(name: $0, target: "r1", released: "r1", state: "done", wave: nil, failed: [])
        }
        let bytes = try FleetStatus(databases: rows, tiers: tiers, state_store_error: nil).varlinkReply()
        #expect(bytes.capacity < 2 * bytes.count, "capacity \(bytes.capacity) for \(bytes.count) bytes")
    }
}
