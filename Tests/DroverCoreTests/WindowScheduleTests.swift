import DroverCore
import Foundation
import Testing

private func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

private func weekly(_ days: Set<Weekday>, _ start: String, _ duration: Duration, _ zone: String) -> WindowSchedule {
    WindowSchedule(MaintenanceWindow(name: "w", schedule: .weekly(days: days, start: LocalTime(start)!, duration: duration, timeZone: zone)))
}

@Suite("Maintenance windows")
struct WindowScheduleTests {
    @Test("a weekend-night window in Berlin opens at local 02:00 for 3 hours")
    func berlinWeekendNight() {
        let window = weekly([.sat, .sun], "02:00", .seconds(3 * 3600), "Europe/Berlin")
        // Saturday 2026-11-21, CET = UTC+1: opens 01:00Z, closes 04:00Z.
        #expect(
            window.opening(containing: date("2026-11-21T01:30:00Z")) == DateInterval(start: date("2026-11-21T01:00:00Z"), end: date("2026-11-21T04:00:00Z")))
        #expect(!window.isOpen(at: date("2026-11-21T04:00:00Z")))
        #expect(!window.isOpen(at: date("2026-11-20T01:30:00Z")))  // a Friday
        #expect(window.nextOpening(after: date("2026-11-21T01:30:00Z"))?.start == date("2026-11-22T01:00:00Z"))
        #expect(window.nextOpening(after: date("2026-11-23T12:00:00Z"))?.start == date("2026-11-28T01:00:00Z"))
    }

    @Test("spring forward: a start inside the skipped hour opens after the gap, and lasts its duration")
    func springForward() {
        // 2026-03-29: Berlin clocks jump from 02:00 CET to 03:00 CEST.
        let window = weekly([.sun], "02:30", .seconds(3600), "Europe/Berlin")
        let opening = window.nextOpening(after: date("2026-03-28T12:00:00Z"))
        #expect(opening?.start == date("2026-03-29T01:30:00Z"))  // 03:30 CEST
        #expect(opening?.duration == 3600)
    }

    @Test("fall back: a start that happens twice opens at the first; a DST change inside a window keeps its real length")
    func fallBack() {
        // 2026-10-25: Berlin clocks go back from 03:00 CEST to 02:00 CET.
        let window = weekly([.sun], "02:30", .seconds(3600), "Europe/Berlin")
        #expect(window.nextOpening(after: date("2026-10-24T12:00:00Z"))?.start == date("2026-10-25T00:30:00Z"))  // 02:30 CEST
        let night = weekly([.sun], "01:00", .seconds(3 * 3600), "Europe/Berlin")
        let opening = night.opening(containing: date("2026-10-25T01:30:00Z"))
        #expect(opening?.start == date("2026-10-24T23:00:00Z"))  // 01:00 CEST
        #expect(opening?.end == date("2026-10-25T02:00:00Z"))  // 03:00 CET: three real hours
        // The week after, the same local start is an hour later in UTC.
        #expect(night.nextOpening(after: date("2026-10-25T12:00:00Z"))?.start == date("2026-11-01T00:00:00Z"))
    }

    @Test("a phase starts only when its expected duration fits in what is left of the opening")
    func earliestStart() {
        let window = weekly([.mon, .tue, .wed, .thu, .fri], "22:30", .seconds(5400), "UTC")
        let monday2330 = date("2026-11-23T23:30:00Z")  // 30 min left
        #expect(window.earliestStart(from: monday2330, expected: .seconds(300)) == monday2330)
        #expect(window.earliestStart(from: monday2330, expected: .seconds(3600)) == date("2026-11-24T22:30:00Z"))
        #expect(window.earliestStart(from: monday2330, expected: .seconds(7200)) == nil)
        // Friday night's opening is followed by Monday's.
        #expect(window.earliestStart(from: date("2026-11-28T00:30:00Z"), expected: .seconds(60)) == date("2026-11-30T22:30:00Z"))
    }

    @Test("an always-open window is always open")
    func always() {
        let window = WindowSchedule(MaintenanceWindow(name: "always", schedule: .always))
        #expect(window.isOpen(at: date("2026-11-22T12:00:00Z")))
        #expect(window.nextOpening(after: Date()) == nil)
        #expect(window.earliestStart(from: date("2026-11-22T12:00:00Z"), expected: .seconds(86_400)) == date("2026-11-22T12:00:00Z"))
    }

    @Test("a window over midnight is open on the next calendar day")
    func overMidnight() {
        let window = weekly([.fri], "22:30", .seconds(3 * 3600), "UTC")
        #expect(window.isOpen(at: date("2026-11-28T00:15:00Z")))  // Saturday 00:15, opened Friday 22:30
        #expect(!window.isOpen(at: date("2026-11-28T01:30:00Z")))
    }
}
