import Foundation
import Yams

/// Reads one manifest file's sections into the builder.
struct ManifestFileParser {
    let reader: YAMLFileReader
    var builder: ManifestBuilder

    private var directory: String { (reader.file as NSString).deletingLastPathComponent }

    mutating func read(_ root: Node) {
        if case .scalar(let scalar) = root, scalar.string.isEmpty { return }  // an empty file
        guard let entries = reader.mapping(root, "the manifest", allowed: ManifestKeys.top) else { return }
        for entry in entries {
            switch entry.key {
            case "fleet": readFleet(entry.value)
            case "defaults": readDefaults(entry.value)
            case "windows": readWindows(entry.value)
            case "databases": readDatabases(entry.value)
            case "discover": readDiscover(entry.value)
            case "waves": readWaves(entry.value)
            case "release_when": readReleaseWhen(entry.value)
            case "hooks": readHooks(entry.value)
            default: break
            }
        }
    }

    // MARK: fleet

    private mutating func readFleet(_ node: Node) {
        guard let entries = reader.mapping(node, "fleet", allowed: ManifestKeys.fleet) else { return }
        for (key, _, value) in entries {
            let at = reader.location(value)
            switch key {
            case "name":
                if let name = reader.nonEmptyString(value, "fleet.name") { builder.fleetName = Located(value: name, location: at) }
            case "migrations":
                if let path = reader.nonEmptyString(value, "fleet.migrations") {
                    builder.migrations = Located(value: resolvePath(path), location: at)
                }
            case "pipeline":
                guard let tiers = reader.stringList(value, "fleet.pipeline") else { continue }
                if tiers.isEmpty { reader.error(value, "fleet.pipeline must name at least one tier") }
                if Set(tiers).count != tiers.count { reader.error(value, "fleet.pipeline names a tier twice") }
                builder.pipeline = Located(value: tiers, location: at)
            case "state":
                if let path = reader.nonEmptyString(value, "fleet.state") {
                    // A conninfo (a shared PostgreSQL state store) stays as written; a file path resolves.
                    builder.state = Located(value: StateLocation(path).isShared ? path : resolvePath(path), location: at)
                }
            case "lease":
                if let lease = positiveDuration(value, "fleet.lease") {
                    if lease < .seconds(2) { reader.error(value, "fleet.lease must be at least 2s (the leader renews it every third of it)") }
                    builder.lease = Located(value: lease, location: at)
                }
            case "socket":
                if let path = reader.nonEmptyString(value, "fleet.socket") { builder.socket = Located(value: resolvePath(path), location: at) }
            case "tracking_schema":
                if let schema = reader.nonEmptyString(value, "fleet.tracking_schema") {
                    if !Identifier.isPlain(schema) {
                        reader.error(value, "fleet.tracking_schema '\(schema)' must be a plain lower-case identifier (letters, digits, _)")
                    }
                    builder.trackingSchema = Located(value: schema, location: at)
                }
            case "operators_group":
                if let group = reader.nonEmptyString(value, "fleet.operators_group") { builder.operatorsGroup = Located(value: group, location: at) }
            case "alembic":
                readFleetAlembic(value)
            case "metrics":
                readMetrics(value)
            case "require_plan_hash":
                if let tiers = reader.stringList(value, "fleet.require_plan_hash") { builder.requirePlanHash = Located(value: tiers, location: at) }
            case "lint":
                guard let lint = reader.mapping(value, "fleet.lint", allowed: ManifestKeys.fleetLint) else { continue }
                for (_, _, version) in lint {
                    guard let number = reader.int(version, "fleet.lint.postgres_version", atLeast: 9) else { continue }
                    if number > 99 { reader.error(version, "fleet.lint.postgres_version is a major version such as 13 or 15, not \(number)") }
                    builder.lint = LintSettings(postgresVersion: number)
                }
            default: break
            }
        }
    }

    /// `fleet.alembic`: `command` (a string or a list; a path with a slash resolves
    /// against this file), `url_env`, `url_x`, `url_scheme`.
    private mutating func readFleetAlembic(_ node: Node) {
        guard let entries = reader.mapping(node, "fleet.alembic", allowed: ManifestKeys.fleetAlembic) else { return }
        for (key, _, value) in entries {
            let what = "fleet.alembic.\(key)"
            switch key {
            case "command":
                var words: [String]?
                if case .scalar = value { words = reader.nonEmptyString(value, what).map { [$0] } } else { words = reader.stringList(value, what) }
                guard var words, !words.isEmpty else {
                    if case .sequence = value { reader.error(value, "\(what) must name a program") }
                    continue
                }
                if words[0].contains("/") { words[0] = resolvePath(words[0]) }
                builder.alembic.command = words
            case "url_env":
                guard let name = reader.string(value, what) else { continue }
                if !name.isEmpty && !Identifier.isEnvironmentName(name) {
                    reader.error(value, "\(what) '\(name)' is not an environment variable name (letters, digits, _)")
                }
                builder.alembic.urlVariable = name.isEmpty ? nil : name
            case "url_x":
                guard let name = reader.nonEmptyString(value, what) else { continue }
                if name.contains("=") || name.contains(where: \.isWhitespace) {
                    reader.error(value, "\(what) '\(name)' must be a bare -x key (no '=' or spaces)")
                }
                builder.alembic.urlArgument = name
            case "url_scheme":
                guard let scheme = reader.nonEmptyString(value, what) else { continue }
                if !scheme.hasPrefix("postgresql") || scheme.contains(":") || scheme.contains("/") {
                    reader.error(
                        value,
                        "\(what) '\(scheme)' must be a SQLAlchemy PostgreSQL scheme such as postgresql, postgresql+psycopg2 or postgresql+psycopg (without '://')"
                    )
                }
                builder.alembic.urlScheme = scheme
            default: break
            }
        }
    }

    private func resolvePath(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
        return Self.normalise(joined)
    }

    /// Removes `.` and `name/..` lexically, keeping a relative path relative (so that
    /// messages show paths the way the user wrote them).
    static func normalise(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    // MARK: defaults and database keys

    private mutating func readDefaults(_ node: Node) {
        guard let entries = reader.mapping(node, "defaults", allowed: ManifestKeys.settings) else { return }
        builder.defaults = readLayer(entries, context: "defaults").overriding(builder.defaults)
        for entry in entries { builder.defaultsLocations[entry.key] = reader.location(entry.value) }
    }

    /// The keys shared by database entries, `defaults` and discover templates.
    private func readLayer(_ entries: [(key: String, keyNode: Node, value: Node)], context: String) -> SettingsLayer {
        var layer = SettingsLayer()
        for (key, _, value) in entries {
            let what = "\(context).\(key)"
            switch key {
            case "tier": layer.tier = reader.nonEmptyString(value, what)
            case "dsn":
                layer.dsn = reader.nonEmptyString(value, what)
                if let dsn = layer.dsn, ConninfoInspection.containsPassword(dsn) {
                    reader.error(value, "\(what) contains a password: move it into a file and point password_file at it (the dsn is shown in status and logs)")
                }
            case "password_file": layer.passwordFile = reader.nonEmptyString(value, what).map(resolvePath)
            case "schema":
                layer.schema = reader.nonEmptyString(value, what)
                if let schema = layer.schema, schema.contains("\0") || schema.count > 63 {
                    reader.error(value, "\(what) must be a PostgreSQL identifier of at most 63 characters")
                }
            case "labels": layer.labels = reader.stringMap(value, what)
            case "window": layer.window = reader.nonEmptyString(value, what)
            case "lock_timeout": layer.lockTimeout = positiveDuration(value, what)
            case "statement_timeout": layer.statementTimeout = positiveDuration(value, what)
            case "connect_timeout": layer.connectTimeout = positiveDuration(value, what)
            case "retry":
                guard let retry = reader.mapping(value, what, allowed: ManifestKeys.retry) else { continue }
                for (retryKey, _, retryValue) in retry {
                    switch retryKey {
                    case "attempts": layer.retryAttempts = reader.int(retryValue, "\(what).attempts", atLeast: 1)
                    case "min_backoff": layer.retryMinBackoff = reader.duration(retryValue, "\(what).min_backoff")
                    case "max_backoff": layer.retryMaxBackoff = reader.duration(retryValue, "\(what).max_backoff")
                    default: break
                    }
                }
            case "throttle": layer.throttle = readThrottle(value, what) ?? layer.throttle
            case "max_parallel": layer.maxParallel = reader.int(value, what, atLeast: 1)
            case "max_per_server": layer.maxPerServer = reader.int(value, what, atLeast: 1)
            case "expand": layer.expand = reader.choice(value, what, WindowPolicy.self)
            case "contract": layer.contract = reader.choice(value, what, WindowPolicy.self)
            case "alembic":
                guard let alembic = reader.mapping(value, what, allowed: ManifestKeys.databaseAlembic) else { continue }
                for (alembicKey, _, alembicValue) in alembic {
                    let name = reader.nonEmptyString(alembicValue, "\(what).\(alembicKey)")
                    if let name, name.contains("\0") || name.count > 63 {
                        reader.error(alembicValue, "\(what).\(alembicKey) must be a PostgreSQL identifier of at most 63 characters")
                    }
                    if alembicKey == "version_table" { layer.alembicVersionTable = name } else { layer.alembicVersionTableSchema = name }
                }
            default: break
            }
        }
        return layer
    }

    func positiveDuration(_ node: Node, _ what: String) -> Duration? {
        guard let duration = reader.duration(node, what) else { return nil }
        guard duration > .zero else {
            reader.error(node, "\(what) must be longer than 0")
            return nil
        }
        return duration
    }

    // MARK: windows

    private mutating func readWindows(_ node: Node) {
        guard case .mapping(let mapping) = node else {
            reader.error(node, "windows must map window names to their schedules")
            return
        }
        for (keyNode, value) in mapping {
            guard let name = reader.nonEmptyString(keyNode, "a window name") else { continue }
            let at = reader.location(keyNode)
            guard let window = readWindow(value, name: name, at: at) else { continue }
            if let first = builder.windows[name] {
                reader.error(keyNode, "window '\(name)' is defined twice (first at \(first.location.map(\.description) ?? "?"))")
                continue
            }
            builder.windows[name] = window
        }
    }

    private func readWindow(_ node: Node, name: String, at location: SourceLocation) -> MaintenanceWindow? {
        let what = "windows.\(name)"
        guard let entries = reader.mapping(node, what, allowed: ManifestKeys.window) else { return nil }
        let byKey = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        if let always = byKey["always"] {
            guard reader.bool(always, "\(what).always") == true else {
                reader.error(always, "\(what).always can only be true; leave it out for a weekly window")
                return nil
            }
            if byKey.count > 1 {
                reader.error(node, "\(what): 'always: true' cannot be combined with days, start, duration or timezone")
                return nil
            }
            return MaintenanceWindow(name: name, schedule: .always, location: location)
        }
        var valid = true
        for required in ["days", "start", "duration"] where byKey[required] == nil {
            reader.error(node, "\(what) needs '\(required)' (or 'always: true')")
            valid = false
        }
        var days: Set<Weekday> = []
        if let node = byKey["days"], let words = reader.stringList(node, "\(what).days") {
            for word in words {
                if let day = Weekday(rawValue: word.lowercased()) {
                    days.insert(day)
                } else {
                    reader.error(node, "\(what).days: '\(word)' is not a day (use mon, tue, wed, thu, fri, sat, sun)")
                    valid = false
                }
            }
            if words.isEmpty {
                reader.error(node, "\(what).days must name at least one day")
                valid = false
            }
        }
        var start: LocalTime?
        if let node = byKey["start"], let text = reader.string(node, "\(what).start") {
            start = LocalTime(text)
            if start == nil {
                reader.error(node, "\(what).start must be a time of day as \"HH:MM\" (found '\(text)'; quote it in YAML)")
                valid = false
            }
        }
        var duration: Duration?
        if let node = byKey["duration"] {
            duration = reader.duration(node, "\(what).duration")
            if let value = duration, value <= .zero || value > .seconds(7 * 86_400) {
                reader.error(node, "\(what).duration must be longer than 0 and at most 7d")
                valid = false
            }
        }
        var timeZone = "UTC"
        if let node = byKey["timezone"], let text = reader.nonEmptyString(node, "\(what).timezone") {
            if TimeZone(identifier: text) == nil {
                let hint = Suggestion.didYouMean(text, in: TimeZone.knownTimeZoneIdentifiers)
                reader.error(node, "\(what).timezone '\(text)' is not an IANA time zone\(hint)")
                valid = false
            } else {
                timeZone = text
            }
        }
        guard valid, let start, let duration else { return nil }
        return MaintenanceWindow(name: name, schedule: .weekly(days: days, start: start, duration: duration, timeZone: timeZone), location: location)
    }

    // MARK: databases

    private mutating func readDatabases(_ node: Node) {
        guard let items = reader.sequence(node, "databases") else { return }
        for item in items {
            guard let entries = reader.mapping(item, "a database", allowed: ManifestKeys.database) else { continue }
            guard let nameNode = entries.first(where: { $0.key == "name" })?.value else {
                reader.error(item, "a database needs a 'name'")
                continue
            }
            guard let name = reader.nonEmptyString(nameNode, "database name") else { continue }
            if !Identifier.isName(name) {
                reader.error(nameNode, "database name '\(name)' may only hold letters, digits, '_', '-' and '.'")
                continue
            }
            let at = reader.location(nameNode)
            let layer = readLayer(entries.filter { $0.key != "name" }, context: "databases[\(name)]")
            if let first = builder.databaseLocations[name] {
                reader.error(nameNode, "database '\(name)' is defined twice (first at \(first))")
                continue
            }
            builder.databaseLocations[name] = at
            builder.databases.append(.init(name: name, layer: layer, location: at, writtenKeys: Set(entries.map(\.key))))
        }
    }

    // MARK: discover

    private mutating func readDiscover(_ node: Node) {
        guard let items = reader.sequence(node, "discover") else { return }
        for item in items {
            guard let entries = reader.mapping(item, "a discover block", allowed: ManifestKeys.discover) else { continue }
            let byKey = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            var complete = true
            for required in ["tier", "dsn", "query", "template"] where byKey[required] == nil {
                reader.error(item, "a discover block needs '\(required)'")
                complete = false
            }
            guard complete,
                let tier = reader.nonEmptyString(byKey["tier"]!, "discover.tier"),
                let dsn = reader.nonEmptyString(byKey["dsn"]!, "discover.dsn"),
                let query = reader.nonEmptyString(byKey["query"]!, "discover.query"),
                let templateEntries = reader.mapping(byKey["template"]!, "discover.template", allowed: ManifestKeys.settings)
            else { continue }
            if ConninfoInspection.containsPassword(dsn) {
                reader.error(byKey["dsn"]!, "discover.dsn contains a password: use password_file")
            }
            let template = readLayer(templateEntries, context: "discover.template")
            // Each row must become a different database: by dsn, or by schema for schema tenants.
            if !((template.dsn ?? "") + (template.schema ?? "")).contains("{") {
                reader.error(
                    byKey["template"]!,
                    "discover.template needs a {column} placeholder in its dsn or schema, e.g. dsn: \"host=tenants-1 dbname={name}\" or schema: \"{name}\"")
            } else if template.dsn == nil {
                reader.error(byKey["template"]!, "discover.template needs a dsn")
            }
            var every = Duration.seconds(600)
            if let node = byKey["every"], let value = reader.duration(node, "discover.every") {
                if value < .seconds(1) { reader.error(node, "discover.every must be at least 1s") } else { every = value }
            }
            builder.discover.append(
                DiscoverSpec(
                    tier: tier,
                    dsn: dsn,
                    passwordFile: byKey["password_file"].flatMap { reader.nonEmptyString($0, "discover.password_file") }.map(resolvePath),
                    query: query,
                    template: template,
                    every: every,
                    location: reader.location(item)
                ))
        }
    }

    // MARK: waves

    private mutating func readWaves(_ node: Node) {
        guard case .mapping(let mapping) = node else {
            reader.error(node, "waves must map tier names to lists of waves")
            return
        }
        for (keyNode, value) in mapping {
            guard let tier = reader.nonEmptyString(keyNode, "a tier name in waves") else { continue }
            if let first = builder.waves[tier] {
                reader.error(keyNode, "waves of tier '\(tier)' are defined twice (first at \(first.location))")
                continue
            }
            guard let items = reader.sequence(value, "waves.\(tier)") else { continue }
            var waves: [WaveSpec] = []
            for item in items {
                guard let wave = readWave(item, tier: tier) else { continue }
                if waves.contains(where: { $0.name == wave.name }) {
                    reader.error(item, "wave '\(wave.name)' appears twice in tier '\(tier)'")
                    continue
                }
                waves.append(wave)
            }
            if items.isEmpty { reader.error(value, "waves.\(tier) must list at least one wave") }
            builder.waves[tier] = Located(value: waves, location: reader.location(keyNode))
        }
    }

    private func readWave(_ node: Node, tier: String) -> WaveSpec? {
        guard let entries = reader.mapping(node, "a wave of \(tier)", allowed: ManifestKeys.wave) else { return nil }
        let byKey = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        guard let nameNode = byKey["name"], let name = reader.nonEmptyString(nameNode, "wave name") else {
            reader.error(node, "a wave needs a 'name'")
            return nil
        }
        let what = "waves.\(tier)[\(name)]"
        guard let selectNode = byKey["select"] else {
            reader.error(node, "\(what) needs 'select' (e.g. select: {all: true})")
            return nil
        }
        guard let select = readSelector(selectNode, what: "\(what).select") else { return nil }
        var wave = WaveSpec(name: name, select: select, location: reader.location(nameNode))
        if let node = byKey["max_parallel"] { wave.maxParallel = reader.int(node, "\(what).max_parallel", atLeast: 1) }
        if let node = byKey["soak"], let soak = reader.duration(node, "\(what).soak") { wave.soak = soak }
        if let node = byKey["failure_budget"], let text = reader.string(node, "\(what).failure_budget") {
            if text.hasSuffix("%"), let percent = Double(text.dropLast()), (0...100).contains(percent) {
                wave.failureBudget = .percent(percent)
            } else if let count = Int(text), count >= 0 {
                wave.failureBudget = .count(count)
            } else {
                reader.error(node, "\(what).failure_budget must be a count (2) or a percentage (\"2%\") (found '\(text)')")
            }
        }
        return wave
    }

    private func readSelector(_ node: Node, what: String) -> WaveSelector? {
        guard let entries = reader.mapping(node, what, allowed: ManifestKeys.select) else { return nil }
        var selector = WaveSelector()
        for (key, _, value) in entries {
            switch key {
            case "names": selector.names = reader.stringList(value, "\(what).names")
            case "labels": selector.labels = reader.stringMap(value, "\(what).labels")
            case "percent":
                guard let text = reader.string(value, "\(what).percent") else { continue }
                let number = Double(text.hasSuffix("%") ? String(text.dropLast()) : text)
                if let number, number > 0, number <= 100 {
                    selector.percent = number
                } else {
                    reader.error(value, "\(what).percent must be a number above 0 and at most 100 (found '\(text)')")
                }
            case "all":
                if reader.bool(value, "\(what).all") == true {
                    selector.all = true
                } else {
                    reader.error(value, "\(what).all can only be true")
                }
            default: break
            }
        }
        if selector.names == nil && selector.labels == nil && selector.percent == nil && !selector.all {
            reader.error(node, "\(what) selects nothing: give names, labels, percent or all: true")
            return nil
        }
        if selector.all && (selector.names != nil || selector.labels != nil || selector.percent != nil) {
            reader.error(node, "\(what): 'all: true' cannot be combined with other criteria")
            return nil
        }
        return selector
    }
}

/// Rules for names written in the manifest.
enum Identifier {
    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 128 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }
    }

    /// A lower-case SQL identifier that needs no quoting.
    static func isPlain(_ text: String) -> Bool {
        guard let first = text.first, first.isLetter || first == "_", text.count <= 63 else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }

    static func isEnvironmentName(_ text: String) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
