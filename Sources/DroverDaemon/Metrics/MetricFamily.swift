/// One metric family in Prometheus' text exposition format (version 0.0.4): a name,
/// its help and type, and its samples. A value type with no I/O: the fleet builds
/// them, `render` writes them, the metrics server sends them.
public struct MetricFamily: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case counter, gauge, histogram
    }

    public struct Label: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    public struct Sample: Sendable, Hashable {
        /// `_bucket`, `_sum`, `_count` for a histogram's series; empty otherwise.
        public var suffix = ""
        public var labels: [Label]
        public var value: Double
    }

    public var name: String
    public var help: String
    public var kind: Kind
    public var samples: [Sample]

    public init(_ name: String, _ kind: Kind, help: String, samples: [Sample] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
    }

    public mutating func add(_ value: Double, _ labels: [(String, String)] = []) {
        samples.append(Sample(labels: labels.map { Label(name: $0.0, value: $0.1) }, value: value))
    }

    /// The families as one exposition, every family with its HELP and TYPE.
    public static func render(_ families: [MetricFamily]) -> String {
        var text = ""
        for family in families {
            text += "# HELP \(family.name) \(escape(family.help, quotes: false))\n# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                text += family.name + sample.suffix
                if !sample.labels.isEmpty {
                    text += "{" + sample.labels.map { "\($0.name)=\"\(escape($0.value, quotes: true))\"" }.joined(separator: ",") + "}"
                }
                text += " " + format(sample.value) + "\n"
            }
        }
        return text
    }

    /// The format's escapes: backslash and newline everywhere, quotes in label values.
    static func escape(_ text: String, quotes: Bool) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\"" where quotes: escaped += "\\\""
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static func format(_ value: Double) -> String {
        if value == .infinity { return "+Inf" }
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// Phase durations, from milliseconds (an expand on an empty table) to hours (a
/// backfill of a large table), in cumulative buckets.
public struct DurationHistogram: Sendable, Hashable {
    public static let bounds: [Double] = [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 10800, 43200]
    /// Observations per bucket, not cumulative; the last is above every bound.
    private(set) var counts = [Int](repeating: 0, count: bounds.count + 1)
    private(set) var sum = 0.0

    public init() {}

    public mutating func observe(_ seconds: Double) {
        counts[Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count] += 1
        sum += seconds
    }

    /// `_bucket` per bound and `+Inf`, `_sum`, `_count`, with `labels` on each.
    func samples(_ labels: [MetricFamily.Label]) -> [MetricFamily.Sample] {
        var samples: [MetricFamily.Sample] = []
        var cumulative = 0
        for (index, bound) in (Self.bounds + [.infinity]).enumerated() {
            cumulative += counts[index]
            samples.append(
                MetricFamily.Sample(
                    suffix: "_bucket", labels: labels + [MetricFamily.Label(name: "le", value: MetricFamily.format(bound))], value: Double(cumulative)))
        }
        samples.append(MetricFamily.Sample(suffix: "_sum", labels: labels, value: sum))
        samples.append(MetricFamily.Sample(suffix: "_count", labels: labels, value: Double(cumulative)))
        return samples
    }
}
