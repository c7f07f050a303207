import Foundation
import Testing

@testable import DroverCore

@Suite("Backfill throttle: limits, batch sizes, the manifest key")
struct ThrottleTests {
    @Test("the first exceeded limit is the reason: replica lag, a silent standby, autovacuum, lock waiters")
    func reasons() {
        let throttle = Throttle(maxReplicaLag: .seconds(2), autovacuum: .wait, maxLockWaiters: 0)
        #expect(throttle.reason(ThrottleReadings()) == nil)
        let fine = ThrottleReadings.Standby(name: "s1", replayLag: .milliseconds(1500), silence: .seconds(1))
        #expect(throttle.reason(ThrottleReadings(standbys: [fine])) == nil)
        let behind = ThrottleReadings.Standby(name: "s2", replayLag: .seconds(14), silence: .seconds(1))
        #expect(throttle.reason(ThrottleReadings(standbys: [fine, behind])) == "replica lag 14s > 2s (s2)")
        let silent = ThrottleReadings.Standby(name: "s3", replayLag: nil, silence: .seconds(13))
        #expect(throttle.reason(ThrottleReadings(standbys: [silent])) == "standby s3 silent for 13s")
        #expect(throttle.reason(ThrottleReadings(autovacuumOn: "docs")) == "autovacuum on docs")
        #expect(throttle.reason(ThrottleReadings(lockWaiters: 1)) == "1 session waiting for locks on the table > 0")
        #expect(Throttle(autovacuum: .ignore).reason(ThrottleReadings(autovacuumOn: "docs")) == nil)
        #expect(!Throttle(targetBatchDuration: .seconds(1)).checksBetweenBatches)
    }

    @Test("batch sizes grow by at most 10 %, shrink by 20 %, stay between batch/8 and batch*8, and follow the target")
    func batchSizer() {
        var sizer = BatchSizer(batch: 1000, target: .milliseconds(200))
        sizer.batchTook(.milliseconds(50))
        #expect(sizer.size == 1100)
        sizer.batchTook(.milliseconds(800))
        #expect(sizer.size == 880)
        sizer.batchTook(.milliseconds(210))
        #expect(sizer.size == 838)  // 880 × 200/210
        for _ in 0..<100 { sizer.batchTook(.milliseconds(1)) }
        #expect(sizer.size == 8000)
        for _ in 0..<100 { sizer.batchTook(.seconds(10)) }
        #expect(sizer.size == 125)
        var tiny = BatchSizer(batch: 2, target: .milliseconds(200))
        tiny.batchTook(.milliseconds(1))
        #expect(tiny.size == 3, "a small batch still grows")
        var fixed = BatchSizer(batch: 500, target: nil)
        fixed.batchTook(.seconds(5))
        #expect(fixed.size == 500)
    }

    @Test("the table a backfill writes, as written")
    func writtenTable() {
        func table(_ sql: String) -> String? { SQLSplitter.split(sql).first?.writtenTable }
        #expect(table("UPDATE docs SET v = 1 WHERE id IN (SELECT id FROM docs LIMIT :batch)") == "docs")
        #expect(table("update ONLY app.\"Docs\" set v = 1") == "app.\"Docs\"")
        #expect(table("-- the rest\nDELETE FROM old_rows WHERE id < 10") == "old_rows")
        #expect(table("INSERT INTO copies SELECT * FROM docs LIMIT :batch") == "copies")
        #expect(table("WITH x AS (SELECT 1) UPDATE docs SET v = 1") == nil)
    }

    @Test("throttle in defaults and per database: the whole map replaces the lower one; bad values name file and line")
    func manifest() {
        let yaml = """
            fleet: {name: t, migrations: m}
            windows: {always: {always: true}}
            defaults: {window: always, throttle: {max_replica_lag: 10s, autovacuum: wait, max_lock_waiters: 0, target_batch_duration: 500ms}}
            databases:
              - {name: a, tier: preview, dsn: "dbname=a"}
              - {name: b, tier: preview, dsn: "dbname=b", throttle: {max_replica_lag: 2s, max_wait: 15min}}
            """
        let (manifest, diagnostics) = ManifestLoader(environment: [:]).load(files: [("/f/a.yaml", yaml)])
        #expect(diagnostics.errors.isEmpty, "\(diagnostics)")
        #expect(
            manifest?.database(named: "a")?.settings.throttle
                == Throttle(maxReplicaLag: .seconds(10), autovacuum: .wait, maxLockWaiters: 0, targetBatchDuration: .milliseconds(500)))
        #expect(manifest?.database(named: "b")?.settings.throttle == Throttle(maxReplicaLag: .seconds(2), maxWait: .seconds(900)))
        #expect(manifest?.database(named: "a")?.settings.throttle.maxWait == .seconds(3600), "an hour unless set")

        let bad = yaml.replacingOccurrences(of: "autovacuum: wait", with: "autovacuum: pause")
        let (_, errors) = ManifestLoader(environment: [:]).load(files: [("/f/a.yaml", bad)])
        #expect(errors.errors.map(\.description).contains { $0.hasPrefix("/f/a.yaml:3:") && $0.contains("autovacuum must be one of wait, ignore") })
    }

    @Test("fleet.metrics: a TCP address or a socket path; anything else names file and line")
    func metricsSettings() {
        func load(_ metrics: String) -> (Manifest?, [String]) {
            let yaml = """
                fleet: {name: t, migrations: m, metrics: \(metrics)}
                windows: {always: {always: true}}
                databases:
                  - {name: a, tier: preview, dsn: "dbname=a", window: always}
                """
            let (manifest, diagnostics) = ManifestLoader(environment: [:]).load(files: [("/f/a.yaml", yaml)])
            return (manifest, diagnostics.errors.map(\.description))
        }
        #expect(load(#"{listen: "127.0.0.1:9187"}"#).0?.fleet.metrics == MetricsSettings(listen: .tcp(host: "127.0.0.1", port: 9187)))
        #expect(
            load(#"{listen: "[::1]:9187", per_database: true}"#).0?.fleet.metrics == MetricsSettings(listen: .tcp(host: "::1", port: 9187), perDatabase: true))
        #expect(load("{listen: /run/drover/metrics.sock}").0?.fleet.metrics?.listen == .unix("/run/drover/metrics.sock"))
        #expect(load(#"{listen: "9187"}"#).1.contains { $0.hasPrefix("/f/a.yaml:1:") && $0.contains("HOST:PORT") })
        #expect(load("{per_database: true}").1.contains { $0.contains("fleet.metrics needs 'listen'") })
        #expect(load("{listen: /x, every: 5s}").1.contains { $0.contains("every") })
    }
}
