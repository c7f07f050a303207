import DroverProtocol

/// The drifted databases as last compared, which status, `watch`, STATUS= and the
/// metrics all show. Plain state: `Fleet+Drift.swift` runs the comparisons.
///
/// A comparison reads every stored fingerprint at each revision in use, so it runs
/// only once fingerprints changed, and then at most every `shortestInterval` or ten
/// times as long as the last comparison took, whichever is longer: at 100,000
/// tenants it stays a small share of droverd's time.
struct DriftWatch {
    static let shortestInterval: Duration = .seconds(5)

    /// By database.
    private(set) var reports: [String: DriftReport] = [:]
    private var stale = true
    private var lastStart: ContinuousClock.Instant?
    private var lastDuration: Duration = .zero

    /// Fingerprints were recorded (or the fleet changed): compare again.
    mutating func fingerprintsChanged() { stale = true }

    func isDue(at now: ContinuousClock.Instant) -> Bool {
        guard stale else { return false }
        guard let lastStart else { return true }
        return now - lastStart >= max(Self.shortestInterval, lastDuration * 10)
    }

    mutating func comparing(at now: ContinuousClock.Instant) {
        stale = false
        lastStart = now
    }

    /// The result of a comparison; returns the databases that began to drift (or
    /// drift differently) and those that no longer do.
    mutating func compared(_ fresh: [DriftReport], took duration: Duration? = nil) -> (drifted: [DriftReport], cleared: [String]) {
        if let duration { lastDuration = duration }
        let byDatabase = Dictionary(fresh.map { ($0.database, $0) }, uniquingKeysWith: { first, _ in first })
        let drifted = byDatabase.values.filter { reports[$0.database] != $0 }.sorted { $0.database < $1.database }
        let cleared = reports.keys.filter { byDatabase[$0] == nil }.sorted()
        reports = byDatabase
        return (drifted, cleared)
    }

    /// One line for status and events: "differs from preview at 3f2a9c1e: table docs: index docs_status_idx (+2 more)".
    static func describe(_ report: DriftReport) -> String {
        let first = report.differences.first ?? "schema differs"
        let more = report.differences.count > 1 ? " (+\(report.differences.count - 1) more)" : ""
        let reference = report.reference.map { " from \($0)" } ?? ""
        return "differs\(reference) at \(report.revision.prefix(8)): \(first)\(more)"
    }
}
