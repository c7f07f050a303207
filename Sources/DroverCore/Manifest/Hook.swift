/// Manifest key `hooks` (docs/operations.md#hooks): commands droverd runs on events.
/// A `before-phase` hook gates the phase; every other hook only notifies.
public struct Hook: Sendable, Hashable {
    public enum Event: String, Sendable, Hashable, CaseIterable {
        case beforePhase = "before-phase"
        case afterPhase = "after-phase"
        case failed, halt
        case waveFinished = "wave-finished"
        case promote, release, cancel, drift
    }

    public var events: Set<Event>
    /// Only events of this tier (and, for phase events, of this phase); all when `nil`.
    public var tier: String?
    public var phase: Phase?
    /// The program and its arguments; no shell unless you name one.
    public var run: [String]
    public var timeout: Duration
    public var location: SourceLocation?

    public static let defaultTimeout: Duration = .seconds(300)

    public init(
        events: Set<Event>, tier: String? = nil, phase: Phase? = nil, run: [String], timeout: Duration = Self.defaultTimeout, location: SourceLocation? = nil
    ) {
        self.events = events
        self.tier = tier
        self.phase = phase
        self.run = run
        self.timeout = timeout
        self.location = location
    }

    /// Whether this hook runs for `event` in `tier` (and `phase`, for phase events).
    public func runs(on event: Event, tier eventTier: String?, phase eventPhase: Phase?) -> Bool {
        guard events.contains(event) else { return false }
        if let tier, tier != eventTier { return false }
        if let phase, phase != eventPhase { return false }
        return true
    }

    /// How a hook names itself in logs, errors and the audit log.
    public var command: String { run.joined(separator: " ") }
}
