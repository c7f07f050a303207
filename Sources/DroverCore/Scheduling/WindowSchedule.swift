import Foundation

/// When a maintenance window is open (docs/states.md). Openings are computed in the
/// window's own time zone: `start` is local wall-clock time, `duration` is real
/// time. Across DST changes this means:
/// - a start that does not exist locally (spring forward) moves to the first valid
///   instant after the gap (02:30 on the night clocks jump from 02:00 to 03:00 opens
///   at 03:30);
/// - a start that exists twice (fall back) opens at the first of the two;
/// - an opening lasts exactly `duration`, even when the clocks change inside it.
public struct WindowSchedule: Sendable {
    public let window: MaintenanceWindow
    private let calendar: Calendar

    public init(_ window: MaintenanceWindow) {
        self.window = window
        var calendar = Calendar(identifier: .gregorian)
        if case .weekly(_, _, _, let zone) = window.schedule, let timeZone = TimeZone(identifier: zone) {
            calendar.timeZone = timeZone
        } else {
            calendar.timeZone = TimeZone(identifier: "UTC")!
        }
        self.calendar = calendar
    }

    /// The opening `date` falls in, if the window is open then.
    public func opening(containing date: Date) -> DateInterval? {
        guard case .weekly = window.schedule else { return DateInterval(start: .distantPast, end: .distantFuture) }
        return openings(around: date).filter { $0.start <= date && date < $0.end }.max { $0.end < $1.end }
    }

    public func isOpen(at date: Date) -> Bool { opening(containing: date) != nil }

    /// The first opening that starts after `date`; `nil` for a window that is always open.
    public func nextOpening(after date: Date) -> DateInterval? {
        guard case .weekly = window.schedule else { return nil }
        return openings(around: date).filter { $0.start > date }.min { $0.start < $1.start }
    }

    /// The earliest moment at or after `date` when a phase expected to take
    /// `expected` may start: inside an opening with at least that much left. `nil`
    /// when no opening of this window is long enough.
    public func earliestStart(from date: Date, expected: Duration) -> Date? {
        let needed = expected.seconds
        if let current = opening(containing: date), current.end.timeIntervalSince(date) >= needed { return date }
        var cursor = date
        for _ in 0..<16 {
            guard let next = nextOpening(after: cursor) else { return nil }
            if next.duration >= needed { return next.start }
            cursor = next.start
        }
        return nil
    }

    /// Openings whose start lies within eight local days either side of `date`
    /// (enough for weekly windows of up to seven days).
    private func openings(around date: Date) -> [DateInterval] {
        guard case .weekly(let days, let start, let duration, _) = window.schedule else { return [] }
        let weekdays = Set(days.map(\.calendarWeekday))
        let midnight = calendar.startOfDay(for: date)
        var result: [DateInterval] = []
        for offset in -8...8 {
            guard let day = calendar.date(byAdding: .day, value: offset, to: midnight),
                weekdays.contains(calendar.component(.weekday, from: day))
            else { continue }
            var components = calendar.dateComponents([.year, .month, .day], from: day)
            components.hour = start.hour
            components.minute = start.minute
            guard let opening = calendar.date(from: components) else { continue }
            result.append(DateInterval(start: opening, duration: duration.seconds))
        }
        return result
    }
}
