import DroverCore
import DroverPostgres
import Foundation

/// `droverctl verify`: the repository applied to a scratch database by the runner
/// the daemon uses, phase by phase, and every revert checked by its round trip
/// (expand → revert → expand) against the schema fingerprint.
public struct RepositoryVerifier {
    public let graph: RevisionGraph
    public let runner: PhaseRunner
    public let session: RunnerSession

    public init(graph: RevisionGraph, runner: PhaseRunner, session: RunnerSession) {
        self.graph = graph
        self.runner = runner
        self.session = session
    }

    /// One line of the report.
    public struct Step: Sendable, CustomStringConvertible {
        public var revision: String
        public var what: String
        public var detail: String

        public var description: String { "\(revision) \(what): \(detail)" }
    }

    /// What the verification found wrong; `description` is the line to print.
    public enum Failure: Error, CustomStringConvertible {
        case notScratch(String)
        case phase(RunnerError)
        case revertDiffers(revision: String, file: SourceLocation, differences: [String], stage: String)
        case database(PostgresError)

        public var description: String {
            switch self {
            case .notScratch(let message): message
            case .phase(.statementFailed(_, let revision, let phase, let statement, let error)):
                "\(statement.map { "\($0.location)" } ?? revision): \(phase.rawValue) of \(revision) failed: SQLSTATE \(error.sqlState ?? "none"): \(error.message)"
                    + (statement.map { " ('\($0.summary)')" } ?? "")
            case .phase(let error): "\(error)"
            case .revertDiffers(let revision, let file, let differences, let stage):
                "\(file): the revert round trip of \(revision) changes the schema (\(stage)): " + differences.joined(separator: "; ")
            case .database(let error): "the scratch database: \(error)"
            }
        }
    }

    /// The revisions after `from` (none: from the root) up to `to`, in order.
    public func revisions(from: String?, to: String) -> [Revision] {
        let done = Set(from.map { graph.lineage(of: $0).map(\.id) } ?? [])
        return graph.lineage(of: to).filter { !done.contains($0.id) }
    }

    /// Applies and checks; `report` gets each line as it happens.
    public func run(from: String?, to: String, reuse: Bool, report: (Step) -> Void) async throws(Failure) -> Int {
        let connection: PostgresConnection
        do { connection = try await session.connect() } catch { throw .database(error) }
        let tracking = SQLQuoting.identifier(session.target.trackingSchema) + ".revisions"
        let managed: Bool
        do { managed = try await connection.execute("SELECT to_regclass(\(SQLQuoting.literal(tracking))) IS NOT NULL").scalar == "t" } catch {
            throw .database(error)
        }
        if managed && !reuse {
            throw .notScratch("the database already holds drover's tracking table \(tracking): verify wants a scratch database (--reuse to run on it anyway)")
        }
        if let from {
            do { _ = try await runner.stamp(from, phase: nil, note: "droverctl verify --from \(from)", on: session) } catch { throw .phase(error) }
            report(Step(revision: from, what: "stamp", detail: "taken as applied with its ancestors (--from)"))
        }
        // With --reuse, what the database has already is reported, not run again.
        let applied: Set<String>
        do { applied = Set(try await runner.observe(session).records.filter(\.status.isDone).map { "\($0.revision)/\($0.phase.rawValue)" }) } catch {
            throw .phase(error)
        }
        var roundTrips = 0
        for revision in revisions(from: from, to: to) {
            if Phase.forward.allSatisfy({ revision.section($0) == nil || applied.contains("\(revision.id)/\($0.rawValue)") }) {
                report(Step(revision: revision.id, what: "all phases", detail: "already applied"))
                continue
            }
            let before = revision.section(.revert) != nil ? try await snapshot() : nil
            for phase in Phase.forward where revision.section(phase) != nil {
                let outcome = try await apply(revision, phase, report: report)
                if phase == .expand, let before {
                    try await roundTrip(revision, before: before, expanded: outcome.snapshot, report: report)
                    roundTrips += 1
                }
            }
        }
        return roundTrips
    }

    private func apply(_ revision: Revision, _ phase: Phase, report: (Step) -> Void) async throws(Failure) -> PhaseOutcome {
        let outcome: PhaseOutcome
        do { outcome = try await runner.run(PlannedStep(revision: revision.id, phase: phase), on: session, fingerprint: true) } catch { throw .phase(error) }
        let rows = phase == .backfill || outcome.rows > 0 ? ", \(outcome.rows) rows" : ""
        report(
            Step(
                revision: revision.id, what: phase.rawValue,
                detail: "applied (\(outcome.statements) statement\(outcome.statements == 1 ? "" : "s")\(rows), \(Self.milliseconds(outcome.duration)) ms)"))
        return outcome
    }

    /// Revert, then expand again: the revert must bring back the schema from before
    /// the expand, and the second expand the schema of the first.
    private func roundTrip(_ revision: Revision, before: SchemaSnapshot, expanded: SchemaSnapshot?, report: (Step) -> Void) async throws(Failure) {
        let expanded = if let expanded { expanded } else { try await snapshot() }
        let location = revision.sections[.revert]?.location ?? revision.location
        do { _ = try await runner.run(PlannedStep(revision: revision.id, phase: .revert), on: session) } catch { throw .phase(error) }
        let reverted = try await snapshot()
        if reverted.digest != before.digest {
            throw .revertDiffers(
                revision: revision.id, file: location, differences: reverted.differences(from: before), stage: "after revert, against before the expand")
        }
        let outcome: PhaseOutcome
        do { outcome = try await runner.run(PlannedStep(revision: revision.id, phase: .expand), on: session, fingerprint: true) } catch { throw .phase(error) }
        let again = if let snapshot = outcome.snapshot { snapshot } else { try await snapshot() }
        if again.digest != expanded.digest {
            throw .revertDiffers(
                revision: revision.id, file: location, differences: again.differences(from: expanded), stage: "expanded again, against the first expand")
        }
        report(Step(revision: revision.id, what: "revert round trip", detail: "expand → revert → expand leaves the schema as it was"))
    }

    private func snapshot() async throws(Failure) -> SchemaSnapshot {
        do {
            let connection = try await session.connect()
            return try await SchemaFingerprint.capture(connection, target: session.target)
        } catch { throw .database(error) }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
