import Foundation
import Testing

@testable import DroverCore

@Suite("release_when: the manifest key and the watch over client sessions")
struct ReleaseGateWatchTests {
    @Test("release_when is read per tier; the pattern needs {revision}; an unknown tier names file and line")
    func manifestKey() {
        let base =
            "fleet: {name: t, migrations: m}\nwindows: {always: {always: true}}\ndefaults: {window: always}\ndatabases:\n  - {name: a, tier: production, dsn: \"dbname=a\"}\n"
        let (manifest, diagnostics) = ManifestLoader(environment: [:]).load(files: [
            ("/f/a.yaml", base + "release_when:\n  production: {clients: \"slides/{revision}\", settle: 10min}\n")
        ])
        #expect(diagnostics.errors.isEmpty, "\(diagnostics)")
        #expect(manifest?.releaseWhen == ["production": ReleaseGate(clients: "slides/{revision}", settle: .seconds(600))])
        let (_, bad) = ManifestLoader(environment: [:]).load(files: [
            ("/f/a.yaml", base + "release_when:\n  prod: {clients: \"slides\"}\n")
        ])
        let messages = bad.errors.map(\.description)
        #expect(messages.contains { $0.hasPrefix("/f/a.yaml:7:") && $0.contains("must contain {revision}") }, "\(messages)")
    }

    @Test("old clients hold the release, other applications do not count, and the target needs every client for settle")
    func watch() {
        let graph = makeGraph()
        let gate = ReleaseGate(clients: "slides/{revision}", settle: .seconds(60))
        #expect(gate.announcedRevision("slides/r2") == "r2")
        #expect(gate.announcedRevision("billing/r2") == nil && gate.announcedRevision("slides/") == nil)
        var watch = ReleaseGateWatch()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        func observe(_ target: String, _ sessions: [String], at seconds: Double = 0) -> Bool {
            watch.observed(tier: "production", gate: gate, target: target, graph: graph, sessions: sessions, now: start.addingTimeInterval(seconds))
        }
        #expect(!observe("r2", ["billing/r9"]))
        #expect(watch.waitingOn["production"] == "production: no session of slides/{revision} yet")
        #expect(!observe("r2", ["slides/r1", "slides/r2", "slides/r1"]))
        #expect(watch.waitingOn["production"] == "production: 2 sessions of r1")
        #expect(!observe("r2", ["slides/zz"]), "unknown: not moved")
        #expect(!observe("r1", ["slides/r2", "psql"]))
        #expect(watch.waitingOn["production"] == "production: every session at r1 or later for 0s of 1min")
        #expect(!observe("r1", ["slides/r1"], at: 59))
        #expect(!observe("r1", ["slides/r0"], at: 61), "an old one came back")
        #expect(!observe("r1", ["slides/r1"], at: 62))
        #expect(observe("r1", ["slides/r1"], at: 122))
        #expect(watch.waitingOn["production"] == nil)
    }
}
