import DroverCore
import DroverProtocol

/// The databases at one revision compared by schema: those that differ from the
/// majority, each with what differs, against the first majority database by name.
/// With no majority (a tie), every database that differs from the first database by
/// name is listed, and the report says it was a tie. The same snapshots always give
/// the same reports.
struct DriftComparison {
    let revision: String
    /// By database name, sorted.
    let snapshots: [(String, SchemaSnapshot)]

    var reports: [DriftReport] {
        let counts = Dictionary(grouping: snapshots, by: { $0.1.digest }).mapValues(\.count)
        guard counts.count > 1, let top = counts.values.max() else { return [] }
        let leaders = counts.filter { $0.value == top }.map(\.key)
        let tie = leaders.count > 1
        // The first database by name whose schema is a leading one.
        guard let (referenceName, reference) = snapshots.first(where: { leaders.contains($0.1.digest) }) else { return [] }
        return snapshots.filter { $0.1.digest != reference.digest }.map { name, snapshot in
            DriftReport(
                database: name, revision: revision, differences: snapshot.differences(from: reference),
                reference: referenceName, tie: tie ? true : nil)
        }
    }
}
