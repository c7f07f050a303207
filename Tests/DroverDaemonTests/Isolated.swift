import Foundation
import Testing

/// Suites that measure time on a running fleet, nested in `extension Isolated`: left
/// out of scripts/test's parallel main pass and run in its isolated pass, one test at
/// a time (as in DroverControlTests, whose Isolated.swift says more).
@Suite(.isolated)
enum Isolated {}

extension Trait where Self == ConditionTrait {
    static var isolated: Self {
        .disabled(if: ProcessInfo.processInfo.environment["DROVER_TEST_PASS"] == "main", "timing-sensitive: scripts/test runs it in its isolated pass")
    }
}
