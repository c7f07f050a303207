import DroverCore
import DroverTestSupport
import Foundation
import Logging
import Testing

@testable import DroverDaemon

@Suite("When droverd reads a database again")
struct ObservationScheduleTests {
    @Test("a finished phase counts as its database's read: the next poll is a poll interval after the phase, not after the last read")
    func phaseCountsAsRead() async throws {
        let fixture = try await DaemonFixture.make()
        defer { fixture.remove() }
        let definition = try FleetDefinition.load(manifestDirectory: fixture.manifestDirectory).get()
        var logger = Logger(label: "droverd-test")
        logger.logLevel = .warning
        // A long poll interval: the only read of preview is the one at start.
        let poll = 60.0
        let fleet = try await Fleet(
            definition: definition, store: try StateStore(path: definition.statePath()), logger: logger,
            pollInterval: .seconds(poll), tickInterval: .milliseconds(50))
        let loop = Task { await fleet.run(grace: .seconds(5)) }
        // Wait until preview has nothing left to run before the release and the
        // last phase's history is written: any earlier, a phase may end between
        // reading its history and reading the schedule.
        try await waitFor(fleet, "preview expanded and backfilled") { $0.database("preview")?.state == .waitingRelease }
        var history = try await fleet.history("preview")
        for _ in 0..<100 {
            if history.contains(where: { $0.revision == "r2" && $0.phase == .backfill }) { break }
            try await Task.sleep(for: .milliseconds(20))
            history = try await fleet.history("preview")
        }
        let last = try #require(history.map(\.finishedAt).max())
        let next = await fleet.readSchedule.next
        let halfway = try #require(next["preview"]?.halfway)
        // From halfway there it may join a read of its server: half of the interval
        // after the phase (four intervals for a database at rest).
        let after = halfway.timeIntervalSince(last)
        #expect([poll / 2, poll * 2].contains { abs(after - $0) < 0.01 }, "next read \(after) s after the last phase")
        await fleet.stop()
        await loop.value
    }
}
