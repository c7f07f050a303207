import DroverCore
import DroverProtocol
import Foundation

extension Fleet {
    /// Every metric (docs/operations.md): the counters kept as phases end, and gauges
    /// read now from the same state `status` shows. Followers answer with their own
    /// view and `drover_leader 0`.
    public func metricFamilies() -> [MetricFamily] {
        let now = clock()
        let pipeline = manifest.fleet.pipeline
        var info = MetricFamily("drover_build_info", .gauge, help: "The running droverd's version.")
        info.add(1, [("version", DroverVersion.current)])
        var leader = MetricFamily("drover_leader", .gauge, help: "1 while this droverd starts phases (it leads), 0 as a follower.")
        leader.add(role.startsPhases ? 1 : 0)

        // One pass over the fleet for the per-state counts (and the per-database series).
        var counts: [String: [DatabaseStateWord: Int]] = [:]
        var perDatabase = MetricFamily(
            "drover_database_state", .gauge, help: "1 for each database's current state (fleet.metrics.per_database).")
        let wantsPerDatabase = manifest.fleet.metrics?.perDatabase == true
        var facts: Scheduler.TierFacts?
        for spec in manifest.databases {
            facts = scheduler.facts(for: spec, known: facts)
            let word = scheduler.stateWord(of: spec, now: now, facts: facts)
            counts[spec.tier, default: [:]][word, default: 0] += 1
            if wantsPerDatabase { perDatabase.add(1, [("database", spec.name), ("tier", spec.tier), ("state", word.rawValue)]) }
        }
        for spec in discovery.gone.values { counts[spec.tier, default: [:]][.gone, default: 0] += 1 }
        var databases = MetricFamily("drover_databases", .gauge, help: "Databases by tier and state (the STATE column of droverctl status).")
        var halted = MetricFamily("drover_tier_halted", .gauge, help: "1 while a tier is halted on a wave's failure budget.")
        var paused = MetricFamily("drover_tier_paused", .gauge, help: "1 while a tier is paused.")
        var throttled = MetricFamily("drover_backfills_throttled", .gauge, help: "Backfills waiting on their throttle limits, by tier.")
        var releaseWaiting = MetricFamily(
            "drover_release_waiting", .gauge, help: "1 while release_when waits for the application's old clients, by tier.")
        let throttledNames = Set(throttles.current.keys).union(scheduler.throttledWaits.keys)
        let throttledByTier = Dictionary(grouping: throttledNames.compactMap { scheduler.database(named: $0)?.tier }, by: { $0 }).mapValues(\.count)
        for tier in pipeline {
            for word in DatabaseStateWord.allCases {
                databases.add(Double(counts[tier]?[word] ?? 0), [("tier", tier), ("state", word.rawValue)])
            }
            halted.add(scheduler.tiers[tier]?.halt == nil ? 0 : 1, [("tier", tier)])
            paused.add(scheduler.tiers[tier]?.paused == true ? 1 : 0, [("tier", tier)])
            throttled.add(Double(throttledByTier[tier] ?? 0), [("tier", tier)])
            releaseWaiting.add(releaseGates.waitingOn[tier] == nil ? 0 : 1, [("tier", tier)])
        }
        var drifted = MetricFamily("drover_drifted_databases", .gauge, help: "Databases whose schema differs from the others at the same revision.")
        drifted.add(Double(driftWatch.reports.count))
        var storeWritable = MetricFamily("drover_state_store_writable", .gauge, help: "0 while droverd's state store refuses writes (no phase starts).")
        storeWritable.add(stateStoreProblem == nil ? 1 : 0)
        return [info, leader, databases] + (wantsPerDatabase ? [perDatabase] : []) + [halted, paused, throttled, releaseWaiting, drifted, storeWritable]
            + phaseCounters.families(pipeline: pipeline)
    }
}
