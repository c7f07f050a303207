/// A maintenance window (docs/manifest.md): weekly openings in an IANA time zone, or always.
public struct MaintenanceWindow: Sendable, Hashable {
    public enum Schedule: Sendable, Hashable {
        case always
        /// Opens on each of `days` at `start` local time for `duration` of real time.
        case weekly(days: Set<Weekday>, start: LocalTime, duration: Duration, timeZone: String)
    }

    public var name: String
    public var schedule: Schedule
    public var location: SourceLocation?

    public init(name: String, schedule: Schedule, location: SourceLocation? = nil) {
        self.name = name
        self.schedule = schedule
        self.location = location
    }
}

public enum Weekday: String, Sendable, Hashable, CaseIterable, Comparable {
    case sun, mon, tue, wed, thu, fri, sat

    /// Foundation's numbering: Sunday = 1.
    public var calendarWeekday: Int { Weekday.allCases.firstIndex(of: self)! + 1 }

    public static func < (lhs: Weekday, rhs: Weekday) -> Bool { lhs.calendarWeekday < rhs.calendarWeekday }
}

/// A wall-clock time of day, `HH:MM`.
public struct LocalTime: Sendable, Hashable, CustomStringConvertible {
    public var hour: Int
    public var minute: Int

    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2,
            let hour = Int(parts[0]), let minute = Int(parts[1]),
            (0..<24).contains(hour), (0..<60).contains(minute)
        else { return nil }
        self.hour = hour
        self.minute = minute
    }

    public var description: String {
        (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
    }
}
