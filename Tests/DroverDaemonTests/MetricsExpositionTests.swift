import DroverCore
import Testing

@testable import DroverDaemon

@Suite("Prometheus text exposition")
struct MetricsExpositionTests {
    @Test("HELP and TYPE per family; label values escaped; integers without a decimal point")
    func render() {
        var family = MetricFamily("drover_example_total", .counter, help: "Lines\nand \\ backslashes.")
        family.add(3, [("tier", "pre\"view"), ("phase", "a\\b\nc")])
        family.add(0.25)
        #expect(
            MetricFamily.render([family]) == """
                # HELP drover_example_total Lines\\nand \\\\ backslashes.
                # TYPE drover_example_total counter
                drover_example_total{tier="pre\\"view",phase="a\\\\b\\nc"} 3
                drover_example_total 0.25

                """)
    }

    @Test("a histogram's buckets are cumulative, end at +Inf, and agree with _count and _sum")
    func histogram() {
        var histogram = DurationHistogram()
        for seconds in [0.001, 0.02, 0.02, 2, 100_000] { histogram.observe(seconds) }
        let samples = histogram.samples([MetricFamily.Label(name: "tier", value: "t")])
        let buckets = samples.filter { $0.suffix == "_bucket" }
        #expect(buckets.count == DurationHistogram.bounds.count + 1)
        #expect(buckets.map(\.value) == buckets.map(\.value).sorted(), "cumulative")
        #expect(buckets.first { $0.labels.last?.value == "0.005" }?.value == 1)
        #expect(buckets.first { $0.labels.last?.value == "0.025" }?.value == 3)
        #expect(buckets.first { $0.labels.last?.value == "5" }?.value == 4)
        #expect(buckets.last?.labels.last?.value == "+Inf" && buckets.last?.value == 5)
        #expect(samples.first { $0.suffix == "_count" }?.value == 5)
        #expect(samples.first { $0.suffix == "_sum" }?.value == 0.001 + 0.04 + 2 + 100_000)
    }

    @Test("phase counters: a zero series for every tier, phase and outcome; rows for backfills; retries")
    func counters() {
        var counters = PhaseCounters()
        counters.phaseEnded(tier: "tenants", phase: .backfill, .applied, seconds: 3, rows: 500, retries: 2)
        counters.phaseEnded(tier: "tenants", phase: .expand, .failed, seconds: 0.1, rows: 0, retries: 0)
        let families = counters.families(pipeline: ["preview", "tenants"])
        let total = families.first { $0.name == "drover_phases_total" }!
        #expect(total.samples.count == 2 * Phase.allCases.count * 3)
        func value(_ family: String, _ labels: [String]) -> Double? {
            families.first { $0.name == family }?.samples.first { $0.labels.map(\.value) == labels }?.value
        }
        #expect(value("drover_phases_total", ["tenants", "backfill", "applied"]) == 1)
        #expect(value("drover_phases_total", ["tenants", "expand", "failed"]) == 1)
        #expect(value("drover_phases_total", ["preview", "expand", "failed"]) == 0)
        #expect(value("drover_backfill_rows_total", ["tenants"]) == 500)
        #expect(value("drover_lock_retries_total", ["tenants"]) == 2)
    }
}
