/// When droverd gives freed memory back (`Heap.trim`): a second after work stopped
/// (phases, fingerprint batches, status answers), and every ten seconds while phases
/// keep running; never when nothing ran since the last time, so an idle daemon does not
/// walk its heap. A plain value: the fleet loop asks it at every step.
struct HeapTrimSchedule {
    static let quiet: Duration = .seconds(1)
    static let busyInterval: Duration = .seconds(10)

    /// The first and the last piece of work since the last trim.
    private var work: (first: ContinuousClock.Instant, last: ContinuousClock.Instant)?

    mutating func worked(at now: ContinuousClock.Instant) {
        work = (work?.first ?? now, now)
    }

    /// Whether to trim now; `busy`: phases are running.
    mutating func trimDue(at now: ContinuousClock.Instant, busy: Bool) -> Bool {
        guard let work else { return false }
        let due = busy ? now - work.first >= Self.busyInterval : now - work.last >= Self.quiet
        if due { self.work = nil }
        return due
    }
}
