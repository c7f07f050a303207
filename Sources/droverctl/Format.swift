import DroverCore
import Foundation

/// How values look in tables: short revision ids, local times, `-` for nothing.
enum Format {
    /// Revision ids are shown by their first 12 characters (`--json` has them in full).
    static func revision(_ id: String?) -> String {
        guard let id else { return "-" }
        return String(id.prefix(12))
    }

    static func text(_ value: String?) -> String {
        guard let value, !value.isEmpty else { return "-" }
        return value
    }

    /// An ISO 8601 time as "2026-11-28 02:00 +01:00" in `zone` (the local one by default).
    static func time(_ iso: String?, in zone: TimeZone = .current) -> String {
        guard let iso else { return "-" }
        let key = iso + "@" + zone.identifier
        // Ten thousand rows share a few windows: format each time once.
        if let known = formatted[key] { return known }
        let text = parse(iso).map { time($0, in: zone) } ?? iso
        formatted[key] = text
        return text
    }

    // droverctl runs one command on one thread.
    nonisolated(unsafe) private static var formatted: [String: String] = [:]

    static func time(_ date: Date, in zone: TimeZone = .current) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm xxx"
        return formatter.string(from: date)
    }

    static func parse(_ iso: String) -> Date? {
        try? Date(iso, strategy: .iso8601)
    }

    static func seconds(_ value: Double) -> String {
        if value < 1 { return "\(Int((value * 1000).rounded()))ms" }
        if value < 60 { return String(format: "%.1fs", value) }
        let whole = Int(value.rounded())
        return whole < 3600 ? "\(whole / 60)m\(String(format: "%02d", whole % 60))s" : "\(whole / 3600)h\(String(format: "%02d", whole % 3600 / 60))m"
    }

    static func colour(of state: DatabaseStateWord) -> Table.Colour? {
        switch state {
        case .current: .green
        case .failed, .tampered: .red
        case .unreachable, .locked, .gone: .yellow
        case .expanding, .backfilling, .contracting: .cyan
        case .paused, .waitingWindow, .waitingRelease: .magenta
        case .pending: nil
        }
    }

    static func colour(ofTierState state: String) -> Table.Colour? {
        switch state {
        case "done": .green
        case "halted": .red
        case "rolling": .cyan
        case "paused": .magenta
        default: nil
        }
    }
}
