import DroverCore
import Foundation

/// The databases `discover` blocks found (docs/revisions.md), merged with the manifest's own.
/// Plain state: `Fleet+Discovery.swift` runs the queries.
struct DiscoveredDatabases {
    /// What each block (by index) found at its last successful run.
    private var found: [Int: [DatabaseSpec]] = [:]
    private var lastRun: [Int: Date] = [:]
    /// Databases that were listed once and are no longer: status shows them as
    /// `gone`, with their history.
    private(set) var gone: [String: DatabaseSpec] = [:]

    /// Whether block `index` runs now (`force`: at start and on reload); marks it run.
    mutating func startRun(_ index: Int, every: Duration, now: Date, force: Bool) -> Bool {
        guard force || lastRun[index].map({ now.timeIntervalSince($0) >= every.seconds }) ?? true else { return false }
        lastRun[index] = now
        return true
    }

    /// Block `index` found `databases`; whether that changed anything.
    mutating func record(_ index: Int, _ databases: [DatabaseSpec]) -> Bool {
        guard found[index] != databases else { return false }
        found[index] = databases
        return true
    }

    /// The manifest's own databases plus the discovered ones (a listed name wins);
    /// `previous`: the list in force until now, whose missing names become gone.
    /// Returns the merged manifest and the names that vanished now.
    mutating func merge(into manifest: Manifest, previous: [DatabaseSpec]) -> (Manifest, vanished: [String]) {
        var effective = manifest
        var names = Set(effective.databases.map(\.name))
        for index in found.keys.sorted() {
            for spec in found[index] ?? [] where names.insert(spec.name).inserted {
                effective.databases.append(spec)
            }
        }
        let vanished = previous.filter { !names.contains($0.name) }
        for spec in vanished { gone[spec.name] = spec }
        for name in names { gone[name] = nil }
        return (effective, vanished.map(\.name))
    }
}
