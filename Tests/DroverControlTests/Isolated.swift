import Foundation
import Testing

/// The heavy scenarios: the socket flood (2,000 connections), the database server's
/// crash (a cluster of its own), a daemon per scenario on a moved clock or an
/// unwritable state store, three droverd sharing one state store, counting a
/// daemon's context switches. On two cores they starve the timing of every test
/// beside them, and theirs suffers too. Every suite nested in `Isolated` is one:
/// `scripts/test` leaves them out of its main pass by this trait, whatever they are
/// called, and runs them afterwards one test at a time (`--no-parallel`). A plain
/// `swift test` runs everything.
@Suite(.isolated)
enum Isolated {}

extension Trait where Self == ConditionTrait {
    static var isolated: Self {
        .disabled(if: ProcessInfo.processInfo.environment["DROVER_TEST_PASS"] == "main", "a heavy scenario: scripts/test runs it in its isolated pass")
    }
}
