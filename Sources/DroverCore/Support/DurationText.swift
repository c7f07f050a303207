/// Durations as written in manifests and revision files: `500ms`, `2s`, `15min`,
/// `3h`, `1d`. Compound forms (`1h30min`) are accepted; a bare number is not, since
/// its unit would be a guess.
public enum DurationText {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1_000), ("min", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case empty
        case missingUnit(String)
        case unknownUnit(String)

        public var description: String {
            switch self {
            case .empty: "empty duration"
            case .missingUnit(let text): "duration '\(text)' has no unit (use ms, s, min, h or d, e.g. '\(text)s')"
            case .unknownUnit(let unit): "unknown duration unit '\(unit)' (use ms, s, min, h or d\(unit == "m" ? "; 'm' is ambiguous, write 'min'" : ""))"
            }
        }
    }

    public static func parse(_ text: String) throws(ParseError) -> Duration {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw .empty }
        var total: Int64 = 0
        var rest = Substring(trimmed)
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Int64(digits) else { throw .missingUnit(trimmed) }
            rest = rest.dropFirst(digits.count)
            let unitText = rest.prefix { $0.isLetter }
            guard !unitText.isEmpty else { throw .missingUnit(trimmed) }
            guard let unit = units.first(where: { $0.suffix == unitText }) else { throw .unknownUnit(String(unitText)) }
            rest = rest.dropFirst(unitText.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow else { throw .unknownUnit(String(unitText)) }
            total += product
        }
        return .milliseconds(total)
    }

    /// The shortest exact spelling: `90min`, `2s`, `1500ms`.
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        if milliseconds == 0 { return "0s" }
        for unit in units.reversed() where milliseconds % unit.milliseconds == 0 {
            return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }
}

extension Duration {
    /// Whole milliseconds (drover's durations have no finer resolution).
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a Double, for time arithmetic with `Date`.
    public var seconds: Double { Double(milliseconds) / 1_000 }
}

extension StringProtocol {
    /// One slice, one copy: a manifest of 10,000 databases trims every value, and
    /// rebuilding each from a reversed view was a third of loading it.
    func trimmingWhitespace() -> String {
        // Most values (every dsn and name of a large manifest) have nothing to trim.
        if let first = first?.asciiValue, let last = last?.asciiValue, Self.isPlainASCII(first), Self.isPlainASCII(last) { return String(self) }
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }

    private static func isPlainASCII(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }
}
