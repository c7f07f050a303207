import DroverCore
import Foundation

/// Named points where tests make the daemon misbehave on purpose, set through
/// `DROVER_FAILPOINTS="name=action,..."`. Parsed once at start; a point that is not
/// set costs one dictionary lookup.
///
/// Actions: `stall` (hang there for good), `stall-after-DURATION` (run normally for
/// that long after start, then hang).
public struct Failpoints: Sendable {
    public enum Action: Sendable, Equatable {
        case stall(after: Duration)
    }

    public static let current = Failpoints(ProcessInfo.processInfo.environment["DROVER_FAILPOINTS"] ?? "")

    private let actions: [String: Action]
    private let started = ContinuousClock.now

    public init(_ specification: String) {
        var actions: [String: Action] = [:]
        for entry in specification.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[1] == "stall" {
                actions[parts[0]] = .stall(after: .zero)
            } else if parts[1].hasPrefix("stall-after-"), let delay = try? DurationText.parse(String(parts[1].dropFirst("stall-after-".count))) {
                actions[parts[0]] = .stall(after: delay)
            }
        }
        self.actions = actions
    }

    public func action(_ name: String) -> Action? { actions[name] }

    /// Hangs here if `name` says so and its time has come.
    public func reach(_ name: String) async {
        guard case .stall(let after)? = actions[name], ContinuousClock.now - started >= after else { return }
        while true { try? await Task.sleep(for: .seconds(3600)) }
    }
}
