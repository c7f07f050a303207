import Foundation

/// Whether the loop's round should tick the scheduler. Without a change to what
/// the scheduler knows (an observation that differs, a phase's end, an operator's
/// change, a reload) and before the wake-up it asked for, a tick would decide
/// nothing new: with 10,000 databases skipping it is most of what an idle daemon
/// saves. It still ticks every `quietInterval`, as a safety net.
struct TickGate {
    static let quietInterval: Duration = .seconds(5)

    private var changed = true
    /// The scheduler's last `.wakeUp`: nothing it decides changes before it.
    private(set) var wakeUp: Date?
    private var lastTick: ContinuousClock.Instant

    init(now: ContinuousClock.Instant = .now) { lastTick = now }

    mutating func schedulerChanged() { changed = true }

    func isDue(now: Date, instant: ContinuousClock.Instant) -> Bool {
        changed || wakeUp.map { now >= $0 } == true || instant - lastTick >= Self.quietInterval
    }

    /// A tick ran; `wakeUp` is the one it asked for (`nil`: none).
    mutating func ticked(at instant: ContinuousClock.Instant, wakeUp: Date?) {
        changed = false
        lastTick = instant
        self.wakeUp = wakeUp
    }
}
