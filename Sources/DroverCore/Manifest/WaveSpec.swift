/// One wave of a tier (docs/states.md): which databases, how many at once, how long to
/// watch them before the next wave, how many may fail.
public struct WaveSpec: Sendable, Hashable {
    public var name: String
    public var select: WaveSelector
    public var maxParallel: Int?
    public var soak: Duration
    public var failureBudget: FailureBudget
    public var location: SourceLocation?

    public init(
        name: String, select: WaveSelector, maxParallel: Int? = nil, soak: Duration = .zero,
        failureBudget: FailureBudget = .count(0), location: SourceLocation? = nil
    ) {
        self.name = name
        self.select = select
        self.maxParallel = maxParallel
        self.soak = soak
        self.failureBudget = failureBudget
        self.location = location
    }

    /// The wave of a tier that has none configured.
    public static let everything = WaveSpec(name: "all", select: WaveSelector(all: true))
}

/// Which databases a wave takes. Criteria combine with AND; `percent` picks that
/// share of the databases the other criteria leave, by a stable hash of the name.
public struct WaveSelector: Sendable, Hashable {
    public var names: [String]?
    public var labels: [String: String]?
    public var percent: Double?
    public var all: Bool

    public init(names: [String]? = nil, labels: [String: String]? = nil, percent: Double? = nil, all: Bool = false) {
        self.names = names
        self.labels = labels
        self.percent = percent
        self.all = all
    }

    /// Whether a database passes the name and label criteria (percent is applied
    /// over the whole candidate set, see `WaveAssignment`).
    public func admits(name: String, labels databaseLabels: [String: String]) -> Bool {
        if let names, !names.contains(name) { return false }
        if let labels, labels.contains(where: { databaseLabels[$0.key] != $0.value }) { return false }
        return true
    }
}

/// How many failed databases a wave tolerates before the tier halts.
public enum FailureBudget: Sendable, Hashable, CustomStringConvertible {
    case count(Int)
    case percent(Double)

    /// Failures allowed in a wave of `size` databases.
    public func allowedFailures(waveSize: Int) -> Int {
        switch self {
        case .count(let count): count
        case .percent(let percent): Int((Double(waveSize) * percent / 100).rounded(.down))
        }
    }

    public var description: String {
        switch self {
        case .count(let count): "\(count)"
        case .percent(let percent): percent == percent.rounded() ? "\(Int(percent))%" : "\(percent)%"
        }
    }
}
