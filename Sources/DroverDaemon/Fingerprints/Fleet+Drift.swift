import DroverProtocol

/// Drift as a standing fact (docs/operations.md): compared beside the loop after
/// fingerprints change, announced to `watch` and the `drift` hooks as it begins and
/// ends, and shown by status, STATUS= and the metrics.
extension Fleet {
    func compareDriftDue() {
        guard driftComparison == nil, driftWatch.isDue(at: .now) else { return }
        driftWatch.comparing(at: .now)
        driftComparison = Task {
            let start = ContinuousClock.now
            let reports = await self.drift(settled: false)
            await self.driftCompared(reports, took: .now - start)
        }
    }

    private func driftCompared(_ reports: [DriftReport], took duration: Duration) {
        driftComparison = nil
        noteDrift(reports, took: duration)
    }

    /// What a comparison found (the loop's, or `droverctl drift`'s).
    func noteDrift(_ reports: [DriftReport], took duration: Duration? = nil) {
        let (drifted, cleared) = driftWatch.compared(reports, took: duration)
        for report in drifted {
            let message = DriftWatch.describe(report)
            logger.warning("schema drift: \(message)", metadata: ["db": "\(report.database)"])
            emit("drift", message, database: report.database, tier: scheduler.database(named: report.database)?.tier, revision: report.revision)
        }
        for name in cleared {
            emit("drift-cleared", "its schema matches the others at its revision again", database: name, tier: scheduler.database(named: name)?.tier)
        }
    }
}
