import Crypto

/// What an operator approved when they read `droverctl plan`: the tier, the target
/// revision, and per database in wave order the phases it would run with each
/// section's checksum. `promote --plan-hash` is refused when this changed since (a
/// revision file edited, a database that moved on, a database added to the tier);
/// the times in the plan and whether promote would be refused now are not part of it.
public enum PlanHash {
    public struct Database: Sendable {
        public var name: String
        public var wave: String
        public var steps: [PlannedStep]

        public init(name: String, wave: String, steps: [PlannedStep]) {
            self.name = name
            self.wave = wave
            self.steps = steps
        }
    }

    /// SHA-256 in hex of the plan's canonical text.
    public static func of(tier: String, revision: String, databases: [Database], graph: RevisionGraph) -> String {
        var lines = ["tier \(tier)", "revision \(revision)"]
        for database in databases {
            lines.append("database \(database.name) wave \(database.wave)")
            for step in database.steps {
                let checksum = graph[step.revision]?.sections[step.phase]?.checksum ?? "-"
                lines.append("  \(step.phase.rawValue) \(step.revision) \(checksum)")
            }
        }
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: SHA256.hash(data: Array(lines.joined(separator: "\n").utf8)).flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }, as: UTF8.self)
    }
}
