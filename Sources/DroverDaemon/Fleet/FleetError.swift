import DroverCore
import DroverRunner

/// Why the daemon refused or failed an operator's request. One case per refusal
/// reason, each carrying what the operator needs to act (the control plane maps
/// these to varlink errors).
public enum FleetError: Error, Sendable, CustomStringConvertible {
    case promotionRefused(revision: String, tier: String, reason: String)
    case planChanged(revision: String, tier: String, approved: String, current: String)
    case unknownDatabase(String, suggestion: String?)
    case unknownRevision(String, reason: String)
    case unknownTier(String, known: [String])
    /// A request parameter that cannot be acted on, and why.
    case invalidParameter(String, reason: String)
    case manifestInvalid([Diagnostic])
    case busy(database: String, reason: String)
    /// A manual phase (revert, stamp, adopt) failed on a database.
    case phaseFailed(database: String, RunnerError)
    case stateStore(String)

    public var description: String {
        switch self {
        case .promotionRefused(let revision, let tier, let reason): "promotion of \(revision) to \(tier) refused: \(reason)"
        case .planChanged(let revision, let tier, let approved, let current):
            "promotion of \(revision) to \(tier) refused: the plan changed since plan hash \(approved.prefix(12)) (now \(current.prefix(12))); run 'droverctl plan \(revision) --to \(tier)' again and review it"
        case .unknownDatabase(let name, let suggestion): "unknown database \(name)" + (suggestion.map { " (did you mean \($0)?)" } ?? "")
        case .unknownRevision(_, let reason): reason
        case .unknownTier(let tier, let known): "unknown tier \(tier) (tiers: \(known.joined(separator: ", ")))"
        case .invalidParameter(_, let reason): reason
        case .manifestInvalid(let diagnostics):
            "the manifest or migrations have errors; still running on the previous ones:\n" + diagnostics.errors.map(\.description).joined(separator: "\n")
        case .busy(let database, let reason): "\(database): \(reason)"
        case .phaseFailed(let database, let error): "\(database): \(error.description)"
        case .stateStore(let message): message
        }
    }
}
