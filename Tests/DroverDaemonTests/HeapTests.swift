import DroverTestSupport
import Foundation
import Testing

@testable import DroverDaemon

@Suite("When droverd gives freed memory back")
struct HeapTrimScheduleTests {
    let start = ContinuousClock.now

    @Test("nothing ran: never, however long the daemon idles")
    func idleNeverTrims() {
        var schedule = HeapTrimSchedule()
        var answers: [Bool] = []
        answers.append(schedule.trimDue(at: start + .seconds(3600), busy: false))
        #expect(answers == [false])
    }

    @Test("a second after the last piece of work, once; again only after more work")
    func quietAfterWork() {
        var schedule = HeapTrimSchedule()
        schedule.worked(at: start)
        schedule.worked(at: start + .milliseconds(800))
        var answers: [Bool] = []
        answers.append(schedule.trimDue(at: start + .milliseconds(1500), busy: false))
        answers.append(schedule.trimDue(at: start + .milliseconds(1800), busy: false))
        answers.append(schedule.trimDue(at: start + .seconds(60), busy: false))
        schedule.worked(at: start + .seconds(61))
        answers.append(schedule.trimDue(at: start + .seconds(62), busy: false))
        #expect(answers == [false, true, false, true])
    }

    @Test("while phases keep running: every ten seconds from the first piece of work since the last trim")
    func busyEveryTenSeconds() {
        var schedule = HeapTrimSchedule()
        for second in 0..<10 { schedule.worked(at: start + .seconds(second)) }
        var answers: [Bool] = []
        answers.append(schedule.trimDue(at: start + .milliseconds(9900), busy: true))
        answers.append(schedule.trimDue(at: start + .seconds(10), busy: true))
        schedule.worked(at: start + .seconds(11))
        answers.append(schedule.trimDue(at: start + .seconds(20), busy: true))
        answers.append(schedule.trimDue(at: start + .seconds(21), busy: true))
        #expect(answers == [false, true, false, true])
    }
}

extension Isolated {
    @Suite("droverd's heap")
    struct HeapTests {
        @Test("the fleet trims once its phases are done, and not while it idles")
        func fleetTrimsAfterWork() async throws {
            let fixture = try await DaemonFixture.make()
            defer { fixture.remove() }
            let (fleet, loop) = try await fixture.start()
            try await waitFor(fleet, "preview waiting for its release") { $0.database("preview")?.state == .waitingRelease }
            // Every database at rest: under load another's phase could still end (and trim) later.
            try await waitFor(fleet, "nothing running") { status in
                status.databases.allSatisfy { ![.pending, .expanding, .backfilling, .contracting].contains($0.state) }
            }
            let trimmed = try await eventually(timeout: .seconds(10)) { await fleet.heapTrims > 0 }
            #expect(trimmed)
            // Without status calls (they count as work) and with nothing running.
            try await Task.sleep(for: HeapTrimSchedule.quiet * 3)
            let settled = await fleet.heapTrims
            try await Task.sleep(for: HeapTrimSchedule.quiet * 3)
            #expect(await fleet.heapTrims == settled)
            await fleet.stop()
            await loop.value
        }

        @Test("droverd's libpq threads share one malloc arena a core, not one each")
        func arenasLimited() async throws {
            let fixture = try await DaemonFixture.make(tenants: ["acme", "globex"], extraRevisions: slowBackfill)
            defer { fixture.remove() }
            let daemon = try droverd(fixture)
            // 200 batches in preview, each a round trip on whichever libpq thread is free.
            let done = try await eventually {
                try await fixture.scalar("SELECT status FROM drover.revisions WHERE revision = 'r3' AND phase = 'backfill'", in: "preview") == "applied"
            }
            #expect(done, "\(daemon.output)")
            let arenas = try Self.threadArenas(pid: daemon.pid)
            // The limit applies from the call at start; the threads that allocated
            // before it (main's and the cooperative pool's) keep theirs.
            #expect(arenas <= ProcessInfo.processInfo.activeProcessorCount + 2, "\(arenas) arenas")
            daemon.signal(SIGTERM)
            #expect(await daemon.wait() == 0)
        }

        /// glibc's arenas besides the main one, from the process's mappings: each is a
        /// heap of 64 MiB reserved at a 64 MiB boundary, its used part read-write and the
        /// rest inaccessible.
        static func threadArenas(pid: pid_t) throws -> Int {
            let heapSize: UInt64 = 64 << 20
            let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
            let regions = maps.split(separator: "\n").compactMap { line -> (start: UInt64, end: UInt64, perms: Substring, anonymous: Bool)? in
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                let bounds = fields[0].split(separator: "-")
                guard fields.count >= 5, bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16) else { return nil }
                return (start, end, fields[1], fields[4] == "0" && fields.count == 5)
            }
            var count = 0
            for (index, region) in regions.enumerated() where region.anonymous && region.perms == "rw-p" && region.start % heapSize == 0 {
                let end =
                    index + 1 < regions.count && regions[index + 1].start == region.end && regions[index + 1].perms == "---p"
                    ? regions[index + 1].end : region.end
                if end - region.start == heapSize { count += 1 }
            }
            return count
        }
    }
}
