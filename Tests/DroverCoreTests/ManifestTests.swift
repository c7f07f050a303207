import Foundation
import Testing

@testable import DroverCore

private let base = """
    fleet:
      name: demo
      migrations: ../migrations
    windows:
      always: {always: true}
      nights: {days: [mon, tue], start: "22:30", duration: 90min, timezone: Europe/Berlin}
    defaults:
      window: always
      lock_timeout: 3s
    databases:
      - name: preview
        tier: preview
        dsn: "host=db dbname=preview"
      - name: production
        tier: production
        dsn: "service=prod"
        window: nights
        retry: {attempts: 3}
    """

private func load(_ files: [(String, String)], environment: [String: String] = [:]) -> (Manifest?, [Diagnostic]) {
    ManifestLoader(environment: environment).load(files: files.map { (path: "/etc/drover/fleet.d/\($0.0)", text: $0.1) })
}

@Suite("Manifest")
struct ManifestTests {
    @Test("a valid manifest loads with defaults applied and paths resolved")
    func validManifest() throws {
        let (manifest, diagnostics) = load([("10.yaml", base)])
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let loaded = try #require(manifest)
        #expect(loaded.fleet.migrations == "/etc/drover/migrations")
        #expect(loaded.fleet.pipeline == ["preview", "production", "tenants"])
        #expect(loaded.fleet.trackingSchema == "drover")
        let production = try #require(loaded.database(named: "production"))
        #expect(production.window == "nights")
        #expect(production.settings.lockTimeout == .seconds(3))
        #expect(production.settings.retry.attempts == 3)
        #expect(production.settings.retry.maxBackoff == .seconds(120))
        #expect(loaded.database(named: "preview")?.window == "always")
        #expect(loaded.waves(ofTier: "tenants") == [WaveSpec.everything])
        guard case .weekly(let days, let start, let duration, let zone) = loaded.windows["nights"]?.schedule else {
            Issue.record("expected a weekly window")
            return
        }
        #expect(days == [.mon, .tue] && start.description == "22:30" && duration == .seconds(5400) && zone == "Europe/Berlin")
    }

    @Test("files merge in order: later fleet and defaults keys override, names must be unique")
    func dropInMerge() throws {
        let (manifest, diagnostics) = load([
            ("10.yaml", base),
            (
                "20-override.yaml",
                """
                fleet:
                  tracking_schema: drover_meta
                defaults:
                  lock_timeout: 5s
                databases:
                  - name: tenant-a
                    tier: tenants
                    dsn: "host=t1 dbname=shared"
                    schema: a
                    labels: {plan: free}
                """
            ),
        ])
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let loaded = try #require(manifest)
        #expect(loaded.fleet.trackingSchema == "drover_meta")
        #expect(loaded.database(named: "tenant-a")?.settings.lockTimeout == .seconds(5))
        #expect(loaded.database(named: "tenant-a")?.schema == "a")
        #expect(loaded.databases.map(\.name) == ["preview", "production", "tenant-a"])
    }

    @Test("${VAR} comes from the environment; ${VAR:-x} has a fallback; undefined is an error")
    func environmentExpansion() throws {
        #expect(EnvironmentExpansion.expand("h=${HOST} p=${PORT:-5432}", environment: ["HOST": "db"]) == .success("h=db p=5432"))
        #expect(EnvironmentExpansion.expand("a $${LITERAL}", environment: [:]) == .success("a ${LITERAL}"))
        #expect(EnvironmentExpansion.expand("${A}${B}", environment: [:]) == .failure(.undefined(["A", "B"])))
        #expect(EnvironmentExpansion.expand("${A", environment: [:]) == .failure(.unterminated))
        let (manifest, _) = load([("10.yaml", base.replacingOccurrences(of: "host=db", with: "host=${DB_HOST}"))], environment: ["DB_HOST": "10.0.0.5"])
        #expect(manifest?.database(named: "preview")?.dsn == "host=10.0.0.5 dbname=preview")
    }

    /// Every manifest error message, with the line it must point at.
    static let errorCases: [(name: String, files: [(String, String)], message: String, line: Int?)] = [
        (
            "unknown key with suggestion", [("a.yaml", base + "\n    lock_timout: 2s")],
            "unknown key 'lock_timout' in a database (did you mean 'lock_timeout'?)", 19
        ),
        ("unknown top-level key", [("a.yaml", base + "\ndatabase: []")], "unknown key 'database' in the manifest (did you mean 'databases'?)", 19),
        (
            "database defined twice", [("a.yaml", base), ("b.yaml", "databases:\n  - {name: preview, tier: preview, dsn: x}")],
            "database 'preview' is defined twice (first at /etc/drover/fleet.d/a.yaml:11:11)", 2
        ),
        (
            "window defined twice", [("a.yaml", base), ("b.yaml", "windows:\n  always: {always: true}")],
            "window 'always' is defined twice (first at /etc/drover/fleet.d/a.yaml:5:3)", 2
        ),
        (
            "waves of a tier defined twice",
            [
                ("a.yaml", base + "\nwaves:\n  tenants:\n    - {name: all, select: {all: true}}"),
                ("b.yaml", "waves:\n  tenants:\n    - {name: x, select: {all: true}}"),
            ], "waves of tier 'tenants' are defined twice", 2
        ),
        ("undefined variable", [("a.yaml", base.replacingOccurrences(of: "host=db", with: "host=${NOPE}"))], "environment variable ${NOPE} not defined", 13),
        (
            "tier not in pipeline", [("a.yaml", base.replacingOccurrences(of: "tier: preview", with: "tier: previw"))],
            "tier 'previw' is not in fleet.pipeline [preview, production, tenants] (did you mean 'preview'?)", 11
        ),
        (
            "unknown window", [("a.yaml", base.replacingOccurrences(of: "window: nights", with: "window: night"))],
            "unknown window 'night' (did you mean 'nights'?)", 14
        ),
        ("bad duration unit", [("a.yaml", base.replacingOccurrences(of: "lock_timeout: 3s", with: "lock_timeout: 3m"))], "'m' is ambiguous, write 'min'", 9),
        ("duration without unit", [("a.yaml", base.replacingOccurrences(of: "lock_timeout: 3s", with: "lock_timeout: 3"))], "duration '3' has no unit", 9),
        (
            "bad time zone", [("a.yaml", base.replacingOccurrences(of: "Europe/Berlin", with: "Europe/Berln"))],
            "windows.nights.timezone 'Europe/Berln' is not an IANA time zone (did you mean 'Europe/Berlin'?)", 6
        ),
        ("bad day", [("a.yaml", base.replacingOccurrences(of: "[mon, tue]", with: "[mon, tues]"))], "'tues' is not a day", 6),
        ("bad start", [("a.yaml", base.replacingOccurrences(of: "22:30", with: "24:30"))], "windows.nights.start must be a time of day as \"HH:MM\"", 6),
        (
            "always combined", [("a.yaml", base.replacingOccurrences(of: "{always: true}", with: "{always: true, start: \"01:00\"}"))],
            "'always: true' cannot be combined", 5
        ),
        ("window missing duration", [("a.yaml", base.replacingOccurrences(of: ", duration: 90min", with: ""))], "windows.nights needs 'duration'", 6),
        (
            "password in key=value dsn", [("a.yaml", base.replacingOccurrences(of: "host=db dbname=preview", with: "host=db password=hunter2"))],
            "contains a password: move it into a file and point password_file at it", 13
        ),
        (
            "password in URI dsn", [("a.yaml", base.replacingOccurrences(of: "\"service=prod\"", with: "\"postgresql://app:hunter2@db/prod\""))],
            "contains a password", 16
        ),
        ("missing fleet.name", [("a.yaml", base.replacingOccurrences(of: "  name: demo\n", with: ""))], "fleet.name is not set in any file", 1),
        (
            "missing migrations", [("a.yaml", base.replacingOccurrences(of: "  migrations: ../migrations\n", with: ""))],
            "fleet.migrations is not set in any file", 1
        ),
        ("database without dsn", [("a.yaml", base.replacingOccurrences(of: "    dsn: \"service=prod\"\n", with: ""))], "database 'production' has no dsn", 14),
        ("database without name", [("a.yaml", base + "\n  - {tier: preview, dsn: x}")], "a database needs a 'name'", 19),
        (
            "bad database name", [("a.yaml", base.replacingOccurrences(of: "name: preview", with: "name: pre view"))], "database name 'pre view' may only hold",
            11
        ),
        (
            "discover template without {name}",
            [("a.yaml", base + "\ndiscover:\n  - {tier: tenants, dsn: \"dbname=postgres\", query: \"SELECT 1 AS name\", template: {dsn: \"dbname=x\"}}")],
            "discover.template needs a {column} placeholder in its dsn or schema", 20
        ),
        (
            "discover missing query", [("a.yaml", base + "\ndiscover:\n  - {tier: tenants, dsn: \"dbname=postgres\", template: {dsn: \"dbname={name}\"}}")],
            "a discover block needs 'query'", 20
        ),
        (
            "empty wave selector", [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w, select: {}}")],
            "selects nothing: give names, labels, percent or all: true", 21
        ),
        (
            "percent out of range", [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w, select: {percent: 150}}")],
            "percent must be a number above 0 and at most 100", 21
        ),
        (
            "bad failure budget", [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w, select: {all: true}, failure_budget: lots}")],
            "failure_budget must be a count (2) or a percentage", 21
        ),
        (
            "database in no wave", [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w, select: {names: [other]}}")],
            "database 'production' is in no wave of tier 'production'", 14
        ),
        (
            "wave names a database of another tier",
            [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w, select: {names: [preview]}}\n    - {name: rest, select: {all: true}}")],
            "selects 'preview', which is not a database of that tier", 21
        ),
        (
            "duplicate wave name", [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w, select: {all: true}}\n    - {name: w, select: {all: true}}")],
            "wave 'w' appears twice in tier 'production'", 22
        ),
        ("YAML syntax error", [("a.yaml", "fleet:\n  name: [unclosed\n")], "YAML syntax", 3),
        ("key twice in one mapping", [("a.yaml", "fleet:\n  name: a\n  name: b\n")], "key defined twice in one mapping: name", 2),
        (
            "list where a value belongs", [("a.yaml", base.replacingOccurrences(of: "dsn: \"service=prod\"", with: "dsn: [a, b]"))],
            "databases[production].dsn must be a single value, not a list", 16
        ),
        (
            "bad tracking schema", [("a.yaml", base.replacingOccurrences(of: "  name: demo\n", with: "  name: demo\n  tracking_schema: Drover-Meta\n"))],
            "fleet.tracking_schema 'Drover-Meta' must be a plain lower-case identifier", 3
        ),
        (
            "retry min above max", [("a.yaml", base.replacingOccurrences(of: "retry: {attempts: 3}", with: "retry: {min_backoff: 5min, max_backoff: 1s}"))],
            "retry.min_backoff is longer than retry.max_backoff", 14
        ),
        ("non-word key", [("a.yaml", base.replacingOccurrences(of: "  name: demo", with: "  [a]: demo"))], "keys in fleet must be plain words", 2),
        (
            "windows not a mapping",
            [
                (
                    "a.yaml",
                    base.replacingOccurrences(
                        of: "windows:\n  always: {always: true}\n  nights: {days: [mon, tue], start: \"22:30\", duration: 90min, timezone: Europe/Berlin}",
                        with: "windows: [always]")
                )
            ], "windows must map window names to their schedules", 4
        ),
        ("waves not a mapping", [("a.yaml", base + "\nwaves: [x]")], "waves must map tier names to lists of waves", 19),
        ("wave without name", [("a.yaml", base + "\nwaves:\n  production:\n    - {select: {all: true}}")], "a wave needs a 'name'", 21),
        ("wave without select", [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w}")], "waves.production[w] needs 'select'", 21),
        (
            "all combined with criteria", [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w, select: {all: true, names: [production]}}")],
            "'all: true' cannot be combined with other criteria", 21
        ),
        ("all false", [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w, select: {all: false}}")], "select.all can only be true", 21),
        ("empty wave list", [("a.yaml", base + "\nwaves:\n  production: []")], "waves.production must list at least one wave", 20),
        (
            "discover every too short",
            [
                (
                    "a.yaml",
                    base
                        + "\ndiscover:\n  - {tier: tenants, dsn: \"dbname=postgres\", query: \"SELECT 1 AS name\", template: {dsn: \"dbname={name}\"}, every: 10ms}"
                )
            ], "discover.every must be at least 1s", 20
        ),
        (
            "discover template tier differs",
            [
                (
                    "a.yaml",
                    base
                        + "\ndiscover:\n  - {tier: tenants, dsn: \"dbname=postgres\", query: \"SELECT 1 AS name\", template: {dsn: \"dbname={name}\", tier: preview}}"
                )
            ], "discover.template.tier 'preview' differs from the block's tier 'tenants'", 20
        ),
        (
            "discover template without window",
            [
                (
                    "a.yaml",
                    base.replacingOccurrences(of: "  window: always\n  lock_timeout", with: "  lock_timeout")
                        + "\ndiscover:\n  - {tier: tenants, dsn: \"dbname=postgres\", query: \"SELECT 1 AS name\", template: {dsn: \"dbname={name}\"}}"
                )
            ], "discover.template has no window", 19
        ),
        (
            "discover password in dsn",
            [
                (
                    "a.yaml",
                    base
                        + "\ndiscover:\n  - {tier: tenants, dsn: \"dbname=postgres password=x\", query: \"SELECT 1 AS name\", template: {dsn: \"dbname={name}\"}}"
                )
            ], "discover.dsn contains a password", 20
        ),
        (
            "not a boolean", [("a.yaml", base.replacingOccurrences(of: "{always: true}", with: "{always: maybe}"))],
            "windows.always.always must be true or false (found 'maybe')", 5
        ),
        ("always false", [("a.yaml", base.replacingOccurrences(of: "{always: true}", with: "{always: false}"))], "windows.always.always can only be true", 5),
        ("not a list", [("a.yaml", base.replacingOccurrences(of: "[mon, tue]", with: "mon"))], "windows.nights.days must be a list", 6),
        (
            "labels not a mapping", [("a.yaml", base.replacingOccurrences(of: "    retry: {attempts: 3}", with: "    labels: [a]"))],
            "databases[production].labels must be a mapping", 18
        ),
        (
            "empty pipeline", [("a.yaml", base.replacingOccurrences(of: "  migrations: ../migrations", with: "  migrations: ../migrations\n  pipeline: []"))],
            "fleet.pipeline must name at least one tier", 4
        ),
        (
            "tier twice in pipeline",
            [
                (
                    "a.yaml",
                    base.replacingOccurrences(
                        of: "  migrations: ../migrations", with: "  migrations: ../migrations\n  pipeline: [preview, preview, production]")
                )
            ], "fleet.pipeline names a tier twice", 4
        ),
        ("database without tier", [("a.yaml", base.replacingOccurrences(of: "    tier: production\n", with: ""))], "database 'production' has no tier", 14),
        (
            "database without window", [("a.yaml", base.replacingOccurrences(of: "  window: always\n  lock_timeout", with: "  lock_timeout"))],
            "database 'preview' has no window (set window: here or in defaults)", 10
        ),
        ("unterminated variable", [("a.yaml", base.replacingOccurrences(of: "host=db", with: "host=${DB"))], "'${' without a closing '}'", 13),
        ("empty value", [("a.yaml", base.replacingOccurrences(of: "  name: demo", with: "  name: \"\""))], "fleet.name must not be empty", 2),
        (
            "not a whole number", [("a.yaml", base.replacingOccurrences(of: "retry: {attempts: 3}", with: "retry: {attempts: three}"))],
            "retry.attempts must be a whole number of at least 1 (found 'three')", 18
        ),
        (
            "zero duration", [("a.yaml", base.replacingOccurrences(of: "lock_timeout: 3s", with: "lock_timeout: 0s"))],
            "defaults.lock_timeout must be longer than 0", 9
        ),
        (
            "window too long", [("a.yaml", base.replacingOccurrences(of: "duration: 90min", with: "duration: 8d"))],
            "windows.nights.duration must be longer than 0 and at most 7d", 6
        ),
        ("no days", [("a.yaml", base.replacingOccurrences(of: "[mon, tue]", with: "[]"))], "windows.nights.days must name at least one day", 6),
        ("percent as text", [("a.yaml", base + "\nwaves:\n  production:\n    - {name: w, select: {percent: lots}}")], "percent must be a number above 0", 21),
        (
            "lease too short",
            [
                (
                    "a.yaml",
                    base.replacingOccurrences(
                        of: "  migrations: ../migrations", with: "  migrations: ../migrations\n  state: service=drover_state\n  lease: 1s")
                )
            ], "fleet.lease must be at least 2s", 5
        ),
        (
            "bad enum", [("a.yaml", base.replacingOccurrences(of: "lock_timeout: 3s", with: "contract: sometimes"))],
            "defaults.contract must be one of anytime, in_window (found 'sometimes')", 9
        ),
    ]

    @Test("every manifest error names file and line", arguments: errorCases.indices)
    func errorMessages(_ index: Int) throws {
        let testCase = Self.errorCases[index]
        let (manifest, diagnostics) = load(testCase.files)
        #expect(manifest == nil, "\(testCase.name): expected the manifest to be rejected")
        let match = diagnostics.errors.first { $0.message.contains(testCase.message) }
        #expect(match != nil, "\(testCase.name): no error contains '\(testCase.message)'; got \(diagnostics)")
        if let line = testCase.line, let match {
            #expect(match.location?.line == line, "\(testCase.name): \(match)")
            #expect(match.location?.file.hasPrefix("/etc/drover/fleet.d/") == true)
        }
    }

    @Test("fleet.lint.postgres_version sets the lint's server version (default 13); a bad one names file and line")
    func lintVersion() {
        #expect(load([("a.yaml", base)]).0?.fleet.lint.postgresVersion == 13)
        let fifteen = base.replacingOccurrences(of: "  migrations: ../migrations", with: "  migrations: ../migrations\n  lint: {postgres_version: 15}")
        #expect(load([("a.yaml", fifteen)]).0?.fleet.lint.postgresVersion == 15)
        let bad = base.replacingOccurrences(
            of: "  migrations: ../migrations", with: "  migrations: ../migrations\n  lint: {postgres_version: 150000, version: 1}")
        let (manifest, diagnostics) = load([("a.yaml", bad)])
        #expect(manifest == nil)
        #expect(diagnostics.contains { $0.message.contains("not 150000") && $0.location?.line == 4 })
        #expect(diagnostics.contains { $0.message.contains("unknown key 'version'") })
    }

    @Test("fleet.require_plan_hash names tiers of the pipeline")
    func requirePlanHash() {
        let required = base.replacingOccurrences(
            of: "  migrations: ../migrations", with: "  migrations: ../migrations\n  require_plan_hash: [production, tenants]")
        #expect(load([("a.yaml", required)]).0?.fleet.requirePlanHash == ["production", "tenants"])
        #expect(load([("a.yaml", base)]).0?.fleet.requirePlanHash == [])
        let typo = base.replacingOccurrences(of: "  migrations: ../migrations", with: "  migrations: ../migrations\n  require_plan_hash: [prodution]")
        let (manifest, diagnostics) = load([("a.yaml", typo)])
        #expect(manifest == nil)
        #expect(
            diagnostics.contains {
                $0.message.contains("fleet.require_plan_hash: tier 'prodution' is not in fleet.pipeline") && $0.message.contains("did you mean 'production'")
            })
    }

    @Test("fleet.state: a PostgreSQL conninfo stays as written and takes fleet.lease; a file path resolves, and a lease beside it is a warning")
    func stateLocations() throws {
        for conninfo in ["service=drover_state", "host=state.internal dbname=drover", "postgresql://drover@state/drover", "postgres://state/drover"] {
            let (manifest, diagnostics) = load([
                (
                    "a.yaml",
                    base.replacingOccurrences(of: "  migrations: ../migrations", with: "  migrations: ../migrations\n  state: \"\(conninfo)\"\n  lease: 20s")
                )
            ])
            #expect(diagnostics.isEmpty, "\(conninfo): \(diagnostics)")
            #expect(manifest?.fleet.state == conninfo)
            #expect(manifest?.fleet.lease == .seconds(20))
            #expect(StateLocation(conninfo) == .postgresql(conninfo: conninfo))
        }
        let (file, diagnostics) = load([
            (
                "a.yaml",
                base.replacingOccurrences(of: "  migrations: ../migrations", with: "  migrations: ../migrations\n  state: ../state/drover=1.db\n  lease: 20s")
            )
        ])
        #expect(file?.fleet.state == "/etc/drover/state/drover=1.db")
        #expect(StateLocation(file?.fleet.state ?? "") == .file("/etc/drover/state/drover=1.db"))
        #expect(diagnostics.warnings.first?.message.contains("fleet.lease has no effect with a state file") == true, "\(diagnostics)")
        #expect(diagnostics.warnings.first?.location?.line == 5)
        #expect(load([("a.yaml", base)]).0?.fleet.lease == .seconds(15), "the default lease")
    }

    @Test("a missing or empty manifest directory is an error")
    func missingDirectory() {
        #expect(
            ManifestLoader().load(directory: "/nonexistent/fleet.d").diagnostics.first?.message.hasPrefix("cannot read manifest directory /nonexistent/fleet.d")
                == true)
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-fleet-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(ManifestLoader().load(directory: empty).diagnostics.first?.message.hasPrefix("no *.yaml files in manifest directory") == true)
    }

    @Test("one run reports every error, not just the first")
    func allErrorsAtOnce() {
        let broken =
            base
            .replacingOccurrences(of: "lock_timeout: 3s", with: "lock_timout: 3s")
            .replacingOccurrences(of: "tier: preview", with: "tier: previw")
            .replacingOccurrences(of: "Europe/Berlin", with: "Mars/Olympus")
        let (_, diagnostics) = load([("a.yaml", broken)])
        #expect(diagnostics.errors.count >= 3)
    }
}

@Suite("Durations, waves, conninfo")
struct SmallCoreTests {
    @Test(
        "durations parse and print",
        arguments: [
            ("500ms", 500), ("2s", 2_000), ("15min", 900_000), ("3h", 10_800_000), ("1d", 86_400_000), ("1h30min", 5_400_000),
        ])
    func durations(_ text: String, _ milliseconds: Int64) throws {
        let duration = try DurationText.parse(text)
        #expect(duration.milliseconds == milliseconds)
        #expect(try DurationText.parse(DurationText.format(duration)) == duration)
    }

    @Test("bad durations are rejected with a reason")
    func badDurations() {
        #expect(throws: DurationText.ParseError.missingUnit("15")) { try DurationText.parse("15") }
        #expect(throws: DurationText.ParseError.unknownUnit("m")) { try DurationText.parse("5m") }
        #expect(throws: DurationText.ParseError.empty) { try DurationText.parse(" ") }
    }

    @Test("waves: first wave that selects a database wins; percent is stable and rounds up")
    func waveAssignment() {
        let tenants = (1...40).map { (name: "tenant-\($0)", labels: ["plan": $0 % 2 == 0 ? "free" : "paid"]) }
        let waves = [
            WaveSpec(name: "canary", select: WaveSelector(names: ["tenant-7"])),
            WaveSpec(name: "early", select: WaveSelector(labels: ["plan": "free"], percent: 10)),
            WaveSpec(name: "rest", select: WaveSelector(all: true)),
        ]
        let assignment = WaveAssignment.assign(tenants, to: waves)
        #expect(assignment.members[0] == ["tenant-7"])
        #expect(assignment.members[1].count == 2)  // 10% of 20 free tenants
        #expect(assignment.members[1].allSatisfy { Int($0.split(separator: "-")[1])! % 2 == 0 })
        #expect(assignment.members[2].count == 37)
        // The same tenants are picked however the input is ordered.
        #expect(WaveAssignment.assign(tenants.reversed(), to: waves) == assignment)
        // Adding a tenant does not move the ones already picked out of "early" unless it ranks first.
        #expect(WaveAssignment.assign(tenants, to: waves).members[1] == assignment.members[1])
    }

    @Test("failure budgets as a count and as a percentage")
    func failureBudget() {
        #expect(FailureBudget.count(1).allowedFailures(waveSize: 100) == 1)
        #expect(FailureBudget.percent(2).allowedFailures(waveSize: 100) == 2)
        #expect(FailureBudget.percent(2).allowedFailures(waveSize: 49) == 0)
    }

    @Test("passwords in a conninfo are found in every form")
    func conninfoPasswords() {
        #expect(ConninfoInspection.containsPassword("host=db password=x"))
        #expect(ConninfoInspection.containsPassword("host=db password = x"))
        #expect(ConninfoInspection.containsPassword("postgresql://app:x@db/app"))
        #expect(ConninfoInspection.containsPassword("postgres://db/app?sslmode=require&password=x"))
        #expect(!ConninfoInspection.containsPassword("postgresql://app@db/app?sslmode=require"))
        #expect(!ConninfoInspection.containsPassword("host=db passfile=/x dbname=password"))
        #expect(ConninfoInspection.server(of: "host=db port=6432 dbname=x") == "db:6432")
        #expect(ConninfoInspection.server(of: "postgresql://app@db:5433/x") == "db:5433")
        #expect(ConninfoInspection.server(of: "service=prod") == nil)
    }

    @Test("backoff doubles from min to max, with jitter in the upper half")
    func backoff() {
        let backoff = Backoff(RetryPolicy(attempts: 6, minBackoff: .seconds(1), maxBackoff: .seconds(10)))
        #expect(backoff.delay(afterAttempt: 1, unit: 1) == .seconds(1))
        #expect(backoff.delay(afterAttempt: 1, unit: 0) == .milliseconds(500))
        #expect(backoff.delay(afterAttempt: 3, unit: 1) == .seconds(4))
        #expect(backoff.delay(afterAttempt: 10, unit: 1) == .seconds(10))
        #expect(backoff.delay(afterAttempt: 100, unit: 0.5) <= .seconds(10))
    }
}
