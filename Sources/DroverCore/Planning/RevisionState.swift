/// What a database's tracking rows mean against the repository (docs/states.md): its two
/// cursors, and whether any applied section no longer matches its file.
public struct RevisionState: Sendable, Hashable {
    /// Newest revision whose expand and backfill are done, with all its ancestors.
    public var expanded: String?
    /// Newest revision whose contract is done, with all its ancestors.
    public var contracted: String?
    /// Applied sections whose checksum differs from the file.
    public var tampered: [TamperedSection]
    /// Revisions recorded in the database that the repository does not have.
    public var unknownRevisions: [String]
    /// Phases left `running` or `failed` (a crash, or a no-transaction failure).
    public var unfinished: [TrackingRecord]

    public var isTampered: Bool { !tampered.isEmpty }

    public init(graph: RevisionGraph, records: [TrackingRecord]) {
        var done: Set<PhaseKey> = []
        var byKey: [PhaseKey: TrackingRecord] = [:]
        for record in records {
            byKey[PhaseKey(record.revision, record.phase)] = record
            if record.status.isDone { done.insert(PhaseKey(record.revision, record.phase)) }
        }
        var expandedSet: Set<String> = []
        var contractedSet: Set<String> = []
        expanded = nil
        contracted = nil
        for id in graph.order {
            guard let revision = graph[id] else { continue }
            let expandDone = [Phase.expand, .backfill].allSatisfy { revision.section($0) == nil || done.contains(PhaseKey(id, $0)) }
            // In order (Alembic): code of a revision runs once everything before it is
            // applied, contracts included.
            let parentsReady =
                graph.appliesInOrder
                ? revision.parents.allSatisfy(contractedSet.contains)
                : revision.parents.allSatisfy(expandedSet.contains)
            if expandDone && parentsReady {
                expandedSet.insert(id)
                expanded = id
            }
            let contractDone = revision.section(.contract) == nil || done.contains(PhaseKey(id, .contract))
            if contractDone && expandedSet.contains(id) && revision.parents.allSatisfy(contractedSet.contains) {
                contractedSet.insert(id)
                contracted = id
            }
        }
        tampered = records.compactMap { record in
            guard record.status.isDone || record.status == .running || record.status == .failed,
                let found = record.checksum,
                let section = graph[record.revision]?.sections[record.phase],
                section.checksum != found
            else { return nil }
            return TamperedSection(revision: record.revision, phase: record.phase, file: section.location, recorded: found, current: section.checksum)
        }
        unknownRevisions = Array(Set(records.map(\.revision)).filter { graph[$0] == nil }).sorted()
        unfinished = records.filter { $0.status == .running || $0.status == .failed }
    }
}

/// A section applied with one text and now different in the file.
public struct TamperedSection: Sendable, Hashable, CustomStringConvertible {
    public var revision: String
    public var phase: Phase
    public var file: SourceLocation
    public var recorded: String
    public var current: String

    public var description: String {
        "\(phase.rawValue) of \(revision) was applied with checksum \(recorded.prefix(12)) but \(file) now has \(current.prefix(12)); restore the file or record the new text with 'droverctl stamp'"
    }
}

struct PhaseKey: Hashable {
    var revision: String
    var phase: Phase
    init(_ revision: String, _ phase: Phase) {
        self.revision = revision
        self.phase = phase
    }
}
