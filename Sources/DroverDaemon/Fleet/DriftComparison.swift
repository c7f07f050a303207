import DroverCore
import DroverProtocol

/// The databases at one revision compared by schema: those that differ from the
/// majority, each with what differs, against the first majority database by name.
/// With no majority (a tie), every database that differs from the first database by
/// name is listed, and the report says it was a tie. The same digests always give
/// the same reports.
///
/// Decided on digests alone (the state store keeps them beside the snapshots), so
/// that only the snapshots of the drifted databases and their reference are read
/// and compared: at 10,000 tenants, decoding every snapshot cost more than the rest.
struct DriftComparison {
    let revision: String
    /// Digest by database name, sorted by name.
    let digests: [(String, String)]

    init(revision: String, digests: [(String, String)]) {
        self.revision = revision
        self.digests = digests
    }

    /// The database the others are compared against, those that differ from it, and
    /// whether no schema had a majority; `nil` when every schema is the same.
    var verdict: (reference: String, drifted: [String], tie: Bool)? {
        let counts = Dictionary(grouping: digests, by: \.1).mapValues(\.count)
        guard counts.count > 1, let top = counts.values.max() else { return nil }
        let leaders = Set(counts.filter { $0.value == top }.map(\.key))
        guard let (reference, referenceDigest) = digests.first(where: { leaders.contains($0.1) }) else { return nil }
        return (reference, digests.filter { $0.1 != referenceDigest }.map(\.0), leaders.count > 1)
    }

    /// The reports, given the snapshots of the verdict's databases.
    func reports(_ snapshots: [String: SchemaSnapshot]) -> [DriftReport] {
        guard let verdict, let reference = snapshots[verdict.reference] else { return [] }
        return verdict.drifted.compactMap { name in
            snapshots[name].map {
                DriftReport(
                    database: name, revision: revision, differences: $0.differences(from: reference), reference: verdict.reference,
                    tie: verdict.tie ? true : nil)
            }
        }
    }
}

extension DriftComparison {
    /// From snapshots at hand (tests).
    static func reports(revision: String, snapshots: [(String, SchemaSnapshot)]) -> [DriftReport] {
        DriftComparison(revision: revision, digests: snapshots.map { ($0.0, $0.1.digest) }).reports(Dictionary(uniqueKeysWithValues: snapshots))
    }
}
