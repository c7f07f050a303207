import DroverCore

/// What the fleet counts as phases end: the counters and histograms of the metrics
/// (docs/operations.md). Only tiers and phases label them: a label per database would
/// make a series per tenant.
struct PhaseCounters: Sendable {
    enum Outcome: String, Sendable, CaseIterable {
        case applied, failed, cancelled
    }

    struct Key: Hashable {
        var tier: String
        var phase: Phase
    }

    private(set) var phases: [Key: [Outcome: Int]] = [:]
    private(set) var durations: [Key: DurationHistogram] = [:]
    private(set) var backfillRows: [String: Int] = [:]
    private(set) var lockRetries: [String: Int] = [:]
    private(set) var stateStoreErrors = 0

    /// `retries`: the attempts after the first (lock timeouts, lost connections).
    mutating func phaseEnded(tier: String, phase: Phase, _ outcome: Outcome, seconds: Double, rows: Int, retries: Int) {
        let key = Key(tier: tier, phase: phase)
        phases[key, default: [:]][outcome, default: 0] += 1
        durations[key, default: DurationHistogram()].observe(seconds)
        if phase == .backfill { backfillRows[tier, default: 0] += rows }
        if retries > 0 { lockRetries[tier, default: 0] += retries }
    }

    mutating func stateStoreFailed() { stateStoreErrors += 1 }

    /// The counter families, with a zero series for every tier and phase (and outcome)
    /// of `pipeline`, so that a rate() over a quiet tier is 0, not absent.
    func families(pipeline: [String]) -> [MetricFamily] {
        var total = MetricFamily("drover_phases_total", .counter, help: "Phases that ended, by tier, phase and outcome.")
        var duration = MetricFamily("drover_phase_duration_seconds", .histogram, help: "How long phases took, applied or not, by tier and phase.")
        var rows = MetricFamily("drover_backfill_rows_total", .counter, help: "Rows changed by backfills, by tier.")
        var retries = MetricFamily("drover_lock_retries_total", .counter, help: "Attempts of phases after a lock timeout or a lost connection, by tier.")
        for tier in pipeline {
            for phase in Phase.allCases {
                let key = Key(tier: tier, phase: phase)
                for outcome in Outcome.allCases {
                    total.add(Double(phases[key]?[outcome] ?? 0), [("tier", tier), ("phase", phase.rawValue), ("outcome", outcome.rawValue)])
                }
                duration.samples += (durations[key] ?? DurationHistogram()).samples([
                    MetricFamily.Label(name: "tier", value: tier), MetricFamily.Label(name: "phase", value: phase.rawValue),
                ])
            }
            rows.add(Double(backfillRows[tier] ?? 0), [("tier", tier)])
            retries.add(Double(lockRetries[tier] ?? 0), [("tier", tier)])
        }
        var storeErrors = MetricFamily("drover_state_store_errors_total", .counter, help: "Writes droverd's state store refused.")
        storeErrors.add(Double(stateStoreErrors))
        return [total, duration, rows, retries, storeErrors]
    }
}
