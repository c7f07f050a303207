/// Accumulates the files of a manifest directory, then checks references between
/// them and applies defaults.
struct ManifestBuilder {
    struct DatabaseEntry {
        var name: String
        var layer: SettingsLayer
        var location: SourceLocation
        /// Keys present in the entry, valid or not: a key that was written but
        /// rejected has its own error, so "has no dsn" would only repeat it.
        var writtenKeys: Set<String> = []
    }

    var fleetName: Located<String>?
    var migrations: Located<String>?
    var pipeline: Located<[String]>?
    var state: Located<String>?
    var lease: Located<Duration>?
    var socket: Located<String>?
    var trackingSchema: Located<String>?
    var operatorsGroup: Located<String>?
    var alembic = AlembicCommand()
    var lint = LintSettings()
    var requirePlanHash: Located<[String]>?
    var metrics: MetricsSettings?
    var defaults = SettingsLayer()
    /// Where each `defaults` key was last set, for messages about it.
    var defaultsLocations: [String: SourceLocation] = [:]
    var windows: [String: MaintenanceWindow] = [:]
    var databases: [DatabaseEntry] = []
    /// Where each of `databases` is defined: a name defined twice is found without
    /// a scan (a manifest may hold 10,000 of them).
    var databaseLocations: [String: SourceLocation] = [:]
    var discover: [DiscoverSpec] = []
    var waves: [String: Located<[WaveSpec]>] = [:]
    var releaseWhen: [String: Located<ReleaseGate>] = [:]
    var hooks: [Hook] = []
    var diagnostics: [Diagnostic] = []

    mutating func build(files: [String]) -> Manifest? {
        let firstFile = files.first.map { SourceLocation(file: $0, line: 1) }
        if fleetName == nil { error(firstFile, "fleet.name is not set in any file") }
        if migrations == nil { error(firstFile, "fleet.migrations is not set in any file (the revision folder, relative to the file)") }
        let pipeline = self.pipeline?.value ?? FleetSettings.defaultPipeline

        func checkTier(_ tier: String?, at location: SourceLocation?, _ what: String) {
            guard let tier else { return }
            if !pipeline.contains(tier) {
                error(
                    location,
                    "\(what): tier '\(tier)' is not in fleet.pipeline [\(pipeline.joined(separator: ", "))]\(Suggestion.didYouMean(tier, in: pipeline))")
            }
        }
        func checkWindow(_ window: String?, at location: SourceLocation?, _ what: String) {
            guard let window else { return }
            if windows[window] == nil {
                let known = windows.keys.sorted()
                error(
                    location,
                    "\(what): unknown window '\(window)'\(Suggestion.didYouMean(window, in: known))\(known.isEmpty ? "; define it under windows:" : "")")
            }
        }

        checkTier(defaults.tier, at: defaultsLocations["tier"], "defaults.tier")
        for tier in requirePlanHash?.value ?? [] { checkTier(tier, at: requirePlanHash?.location, "fleet.require_plan_hash") }
        checkWindow(defaults.window, at: defaultsLocations["window"], "defaults.window")

        var resolved: [DatabaseSpec] = []
        for entry in databases {
            let layer = entry.layer.overriding(defaults)
            let what = "database '\(entry.name)'"
            func missing(_ key: String, _ message: String) {
                if !entry.writtenKeys.contains(key) && defaultsLocations[key] == nil { error(entry.location, message) }
            }
            guard let tier = layer.tier else {
                missing("tier", "\(what) has no tier (one of \(pipeline.joined(separator: ", ")))")
                continue
            }
            guard let dsn = layer.dsn else {
                missing("dsn", "\(what) has no dsn")
                continue
            }
            guard let window = layer.window else {
                missing("window", "\(what) has no window (set window: here or in defaults)")
                continue
            }
            checkTier(tier, at: entry.location, what)
            checkWindow(window, at: entry.location, what)
            let settings = layer.settings
            if settings.retry.minBackoff > settings.retry.maxBackoff {
                error(entry.location, "\(what): retry.min_backoff is longer than retry.max_backoff")
            }
            resolved.append(
                DatabaseSpec(
                    name: entry.name, tier: tier, dsn: dsn, passwordFile: layer.passwordFile, schema: layer.schema,
                    labels: layer.labels ?? [:], window: window, settings: settings, location: entry.location
                ))
        }

        for block in discover {
            checkTier(block.tier, at: block.location, "discover")
            let template = block.template.overriding(defaults)
            if template.window == nil { error(block.location, "discover.template has no window (set it there or in defaults)") }
            checkWindow(block.template.window, at: block.location, "discover.template")
            if let tier = block.template.tier, tier != block.tier {
                error(block.location, "discover.template.tier '\(tier)' differs from the block's tier '\(block.tier)'")
            }
        }

        for (tier, located) in waves.sorted(by: { $0.key < $1.key }) {
            checkTier(tier, at: located.location, "waves")
            let members = resolved.filter { $0.tier == tier }
            for wave in located.value {
                for name in wave.select.names ?? [] where !members.contains(where: { $0.name == name }) && discover.allSatisfy({ $0.tier != tier }) {
                    error(wave.location, "wave '\(wave.name)' of tier '\(tier)' selects '\(name)', which is not a database of that tier")
                }
            }
            let assignment = WaveAssignment.assign(members.map { ($0.name, $0.labels) }, to: located.value)
            for database in members where assignment.wave(of: database.name) == nil {
                error(
                    database.location,
                    "database '\(database.name)' is in no wave of tier '\(tier)' and would never move; add a last wave with select: {all: true}")
            }
        }

        for (tier, gate) in releaseWhen.sorted(by: { $0.key < $1.key }) { checkTier(tier, at: gate.location, "release_when") }
        for hook in hooks { if let tier = hook.tier { checkTier(tier, at: hook.location, "a hook's tier") } }

        if let lease, state.map({ StateLocation($0.value).isShared }) != true {
            warning(lease.location, "fleet.lease has no effect with a state file; it applies to a PostgreSQL fleet.state shared by several droverd")
        }

        guard let fleetName, let migrations else { return nil }
        let fleet = FleetSettings(
            name: fleetName.value,
            migrations: migrations.value,
            pipeline: pipeline,
            state: state?.value,
            lease: lease?.value ?? FleetSettings.defaultLease,
            socket: socket?.value,
            trackingSchema: trackingSchema?.value ?? FleetSettings.defaultTrackingSchema,
            operatorsGroup: operatorsGroup?.value ?? FleetSettings.defaultOperatorsGroup,
            alembic: alembic,
            lint: lint,
            requirePlanHash: requirePlanHash?.value ?? [],
            metrics: metrics
        )
        var manifest = Manifest(
            fleet: fleet,
            windows: windows,
            databases: resolved,
            discover: discover,
            waves: waves.mapValues(\.value),
            defaults: defaults,
            files: files
        )
        manifest.releaseWhen = releaseWhen.mapValues(\.value)
        manifest.hooks = hooks
        return manifest
    }

    private mutating func error(_ location: SourceLocation?, _ message: String) {
        diagnostics.append(Diagnostic(at: location, message))
    }

    private mutating func warning(_ location: SourceLocation?, _ message: String) {
        diagnostics.append(Diagnostic(.warning, at: location, message))
    }
}
