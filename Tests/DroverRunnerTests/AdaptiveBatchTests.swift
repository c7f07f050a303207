import DroverCore
import DroverRunner
import DroverTestSupport
import Foundation
import Testing

/// Rows of the adaptive backfill: 100,000 by default, `DROVER_ADAPTIVE_ROWS=1000000`
/// for the figure in docs/benchmarks.md.
private let rows = Int(ProcessInfo.processInfo.environment["DROVER_ADAPTIVE_ROWS"] ?? "") ?? 100_000

@Suite("Adaptive backfill batches")
struct AdaptiveBatchTests {
    @Test("with target_batch_duration the batch size moves by at most +10 % (or one row) and -20 % a batch, within batch/8 and batch*8")
    func adaptive() async throws {
        let fixture = try await Fixture.make("adapt")
        let revisions = try graph(
            """
            -- drover:revision cccc00000001
            -- drover:parent none
            -- drover:expand
            CREATE TABLE wide (id int PRIMARY KEY, v text);
            INSERT INTO wide SELECT g, NULL FROM generate_series(1, \(rows)) g;
            -- drover:backfill batch=1000
            UPDATE wide SET v = md5(id::text) WHERE id IN (SELECT id FROM wide WHERE v IS NULL LIMIT :batch);
            """)
        var settings = Fixture.fastSettings
        settings.throttle = Throttle(targetBatchDuration: .milliseconds(200))
        let session = fixture.session(settings: settings)
        let outcomes = try await runner(revisions).migrate(session, to: "cccc00000001", contractThrough: nil)
        await session.close()
        let backfill = try #require(outcomes.first { $0.phase == .backfill })
        #expect(backfill.rows == rows)
        let sizes = backfill.batchSizes
        #expect(sizes.first == 1000)
        #expect(sizes.allSatisfy { (125...8000).contains($0) }, "\(sizes)")
        for (previous, next) in zip(sizes, sizes.dropFirst()) {
            #expect(next <= max(previous + 1, Int(Double(previous) * 1.1)) && Double(next) >= (Double(previous) * 0.8).rounded(.down), "\(previous) → \(next)")
        }
        #expect(Set(sizes).count > 1, "the size moved")
        let quartiles = [0, sizes.count / 4, sizes.count / 2, 3 * sizes.count / 4, sizes.count - 1].map { sizes[$0] }
        print(
            "adaptive batches: \(rows) rows in \(sizes.count) batches over \(String(format: "%.1f", backfill.duration.seconds)) s; size at the start, quartiles and end: \(quartiles.map(String.init).joined(separator: ", ")); largest \(sizes.max() ?? 0), smallest \(sizes.min() ?? 0)"
        )
    }
}
