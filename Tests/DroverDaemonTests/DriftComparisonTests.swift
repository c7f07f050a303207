import DroverCore
import DroverProtocol
import Testing

@testable import DroverDaemon

private func snapshot(_ columns: [String], index: String? = nil) -> SchemaSnapshot {
    SchemaSnapshot(tables: [
        "docs": SchemaSnapshot.Table(
            name: "docs",
            columns: columns.map { SchemaSnapshot.Column(name: $0, type: "integer", defaultValue: nil, nullable: true) },
            indexes: index.map { [$0: "CREATE INDEX \($0) ON docs (a)"] } ?? [:],
            constraints: [:])
    ])
}

@Suite("Drift: what differs, against whom")
struct DriftComparisonTests {
    @Test("columns in another order are named; a 1:1 tie is reported as such, the same way every time")
    func columnOrderAndTie() {
        let alembicOrder = snapshot(["id", "b", "a"])
        let droverOrder = snapshot(["id", "a", "b"])
        for snapshots in [[("p1", droverOrder), ("p2", alembicOrder)], [("p1", droverOrder), ("p2", alembicOrder)]] {
            let reports = DriftComparison.reports(revision: "m1", snapshots: snapshots)
            #expect(reports.count == 1)
            #expect(reports.first?.database == "p2")
            #expect(reports.first?.reference == "p1")
            #expect(reports.first?.tie == true)
            #expect(reports.first?.differences == ["columns of docs are in the order id, b, a, expected id, a, b"])
        }
    }

    @Test("a majority: the odd one out is listed against the first majority database by name; no report is ever empty")
    func majority() {
        let reports = DriftComparison.reports(
            revision: "r2",
            snapshots: [
                ("a", snapshot(["id"], index: "docs_a_idx")), ("b", snapshot(["id"])), ("c", snapshot(["id"], index: "docs_a_idx")),
            ]
        )
        #expect(reports.map(\.database) == ["b"])
        #expect(reports.first?.reference == "a")
        #expect(reports.first?.tie == nil)
        #expect(reports.first?.differences == ["index docs_a_idx missing"])
        #expect(DriftComparison.reports(revision: "r2", snapshots: [("a", snapshot(["id"])), ("b", snapshot(["id"]))]).isEmpty)
    }
}

@Suite("DriftWatch: when drift is compared again, and what began and ended")
struct DriftWatchTests {
    let start = ContinuousClock.now

    @Test("due at start, then only after fingerprints changed, and not sooner than the interval or ten times the last comparison")
    func due() {
        var watch = DriftWatch()
        #expect(watch.isDue(at: start))
        watch.comparing(at: start)
        _ = watch.compared([], took: .seconds(2))
        #expect(!watch.isDue(at: start + .seconds(60)), "nothing changed")
        watch.fingerprintsChanged()
        #expect(!watch.isDue(at: start + .seconds(19)), "the last comparison took 2 s")
        #expect(watch.isDue(at: start + .seconds(20)))
        watch.comparing(at: start + .seconds(20))
        _ = watch.compared([], took: .milliseconds(1))
        watch.fingerprintsChanged()
        #expect(!watch.isDue(at: start + .seconds(24)))
        #expect(watch.isDue(at: start + .seconds(25)), "at least DriftWatch.shortestInterval")
    }

    @Test("a database is announced when it begins to drift or drifts differently, and when it no longer does")
    func changes() {
        var watch = DriftWatch()
        let globex = DriftReport(database: "globex", revision: "r2", differences: ["index docs_status_idx"], reference: "acme")
        var (drifted, cleared) = watch.compared([globex])
        #expect(drifted == [globex] && cleared.isEmpty)
        (drifted, cleared) = watch.compared([globex])
        #expect(drifted.isEmpty && cleared.isEmpty, "the same drift is not announced twice")
        var moved = globex
        moved.revision = "r3"
        (drifted, cleared) = watch.compared([moved])
        #expect(drifted == [moved] && cleared.isEmpty)
        (drifted, cleared) = watch.compared([])
        #expect(drifted.isEmpty && cleared == ["globex"])
        #expect(watch.reports.isEmpty)
        #expect(DriftWatch.describe(globex) == "differs from acme at r2: index docs_status_idx")
    }
}
