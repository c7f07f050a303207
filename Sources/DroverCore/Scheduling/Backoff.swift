/// Exponential backoff with jitter between retries of a phase (docs/states.md): the n-th
/// wait is drawn from [base/2, base] with base = min_backoff · 2^(n-1), capped at
/// max_backoff. The jitter keeps many databases that failed together from retrying
/// in lock step.
public struct Backoff: Sendable {
    public var policy: RetryPolicy

    public init(_ policy: RetryPolicy) { self.policy = policy }

    /// The wait before attempt `attempt + 1`, given `unit` in [0, 1).
    public func delay(afterAttempt attempt: Int, unit: Double) -> Duration {
        let minimum = Double(policy.minBackoff.milliseconds)
        let maximum = Double(policy.maxBackoff.milliseconds)
        let exponent = Double(max(attempt - 1, 0))
        let base = min(minimum * pow2(exponent), maximum)
        let jittered = base / 2 + base / 2 * min(max(unit, 0), 1)
        return .milliseconds(Int64(max(jittered, min(minimum, maximum) / 2)))
    }

    public func delay(afterAttempt attempt: Int) -> Duration {
        delay(afterAttempt: attempt, unit: Double.random(in: 0..<1))
    }

    private func pow2(_ exponent: Double) -> Double {
        exponent > 60 ? .greatestFiniteMagnitude : Double(1 << Int(exponent))
    }
}
