/// The phases a revision is split into (docs/revisions.md).
public enum Phase: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case expand
    case backfill
    case contract
    case revert

    /// The phases a forward migration runs, in order.
    public static let forward: [Phase] = [.expand, .backfill, .contract]

    private var order: Int { Phase.allCases.firstIndex(of: self)! }
    public static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.order < rhs.order }
}

/// Options on a `-- drover:backfill` line.
public struct BackfillOptions: Sendable, Hashable {
    public static let defaultBatch = 1000

    /// Substituted for `:batch`.
    public var batch: Int
    /// Sleep between batches, to leave room for the application's own queries.
    public var pause: Duration

    public init(batch: Int = BackfillOptions.defaultBatch, pause: Duration = .zero) {
        self.batch = batch
        self.pause = pause
    }
}

/// What applies a section.
public enum SectionEngine: Sendable, Hashable {
    /// drover runs the section's SQL itself.
    case sql
    /// The project's own `alembic upgrade <revision>`; the section's body is the
    /// revision's Python file, so a changed file shows as tampered.
    case alembic
}

/// One phase's SQL in a revision file (or one Alembic revision).
public struct Section: Sendable, Hashable {
    public var phase: Phase
    /// Where the `-- drover:<phase>` line is.
    public var location: SourceLocation
    /// `-- drover:no-transaction`: statements run one by one, outside a transaction.
    public var noTransaction: Bool
    public var backfill: BackfillOptions?
    /// The section's text below its directive line, as written.
    public var body: String
    public var statements: [SQLStatement]
    /// SHA-256 (hex) of the normalised body; see `Checksum`.
    public var checksum: String
    public var engine: SectionEngine = .sql
    /// `-- drover:lint-ignore` lines of the section.
    public var lintIgnores: [LintIgnore] = []

    public var isEmpty: Bool { engine == .sql && statements.isEmpty }
}

/// One revision file.
public struct Revision: Sendable, Hashable, Identifiable {
    public var id: String
    /// Empty for the root; two or more for a merge revision.
    public var parents: [String]
    /// Parents that are Alembic `depends_on` rather than `down_revision` (Alembic
    /// orders its upgrades by the difference).
    public var dependencies: [String] = []
    public var message: String
    /// The `-- drover:revision` line.
    public var location: SourceLocation
    public var sections: [Phase: Section]

    public init(id: String, parents: [String], message: String, location: SourceLocation, sections: [Phase: Section]) {
        self.id = id
        self.parents = parents
        self.message = message
        self.location = location
        self.sections = sections
    }

    public var file: String { location.file }

    /// The section of `phase` if it has any statement.
    public func section(_ phase: Phase) -> Section? {
        guard let section = sections[phase], !section.isEmpty else { return nil }
        return section
    }

    /// Forward phases this revision actually has work in.
    public var forwardPhases: [Phase] { Phase.forward.filter { section($0) != nil } }
}
