/// Which wave each database of a tier belongs to (docs/manifest.md): the first wave that
/// selects it. `percent` takes that share (rounded up) of the databases still
/// unassigned that pass the wave's other criteria, ordered by a stable hash of the
/// name, so the same databases are picked on every run.
public struct WaveAssignment: Sendable, Equatable {
    /// Wave index per database name.
    public private(set) var waveIndex: [String: Int] = [:]
    /// Database names per wave, in hash order within a percent wave.
    public private(set) var members: [[String]]
    /// Each database's place in its wave's `members`.
    private var positions: [String: Int] = [:]

    public static func assign(_ databases: [(name: String, labels: [String: String])], to waves: [WaveSpec]) -> WaveAssignment {
        var assignment = WaveAssignment(members: Array(repeating: [], count: waves.count))
        var remaining = databases.sorted { $0.name < $1.name }
        for (index, wave) in waves.enumerated() {
            var chosen = remaining.filter { wave.select.admits(name: $0.name, labels: $0.labels) }
            if let percent = wave.select.percent {
                let count = Int((Double(chosen.count) * percent / 100).rounded(.up))
                chosen = Array(chosen.sorted { (StableHash.fnv1a($0.name), $0.name) < (StableHash.fnv1a($1.name), $1.name) }.prefix(count))
            }
            let names = Set(chosen.map(\.name))
            for (position, database) in chosen.enumerated() {
                assignment.waveIndex[database.name] = index
                assignment.positions[database.name] = position
            }
            assignment.members[index] = chosen.map(\.name)
            remaining.removeAll { names.contains($0.name) }
        }
        return assignment
    }

    public func wave(of name: String) -> Int? { waveIndex[name] }

    /// Where the database stands in its wave (`Int.max` outside every wave).
    public func position(of name: String) -> Int { positions[name] ?? .max }
}
