import Foundation

/// What operators and the daemon decided about one tier (docs/states.md); the daemon keeps
/// it in its state store so that it survives restarts.
public struct TierControl: Sendable, Hashable, Codable {
    /// The revision the tier should reach. For the first tier of the pipeline `nil`
    /// means "follow the repository head"; for later tiers it means "not promoted yet".
    public var target: String?
    /// Contracts up to this revision may run in this tier.
    public var released: String?
    public var paused = false
    /// Why, when an operator said (`droverctl cancel --tier --reason`).
    public var pauseReason: String?
    /// Set when failures exceeded a wave's budget; cleared by `resume`.
    public var halt: Halt?
    /// When each wave (by index) finished for `target`; soak counts from there.
    public var wavesFinished: [Int: Date] = [:]

    public init(target: String? = nil, released: String? = nil) {
        self.target = target
        self.released = released
    }

    public struct Halt: Sendable, Hashable, Codable {
        public var wave: String
        public var failed: [String]
        public var at: Date

        public init(wave: String, failed: [String], at: Date) {
            self.wave = wave
            self.failed = failed
            self.at = at
        }
    }
}
