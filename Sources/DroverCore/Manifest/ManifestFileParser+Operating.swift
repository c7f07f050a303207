import Yams

/// The keys for operating long rollouts (docs/manifest.md): `throttle` in a settings
/// layer, `release_when` at the top.
extension ManifestFileParser {
    /// `throttle: {max_replica_lag, autovacuum, max_lock_waiters, target_batch_duration, max_wait}`.
    /// The whole map replaces a lower layer's: `throttle: {}` turns it off.
    func readThrottle(_ value: Node, _ what: String) -> Throttle? {
        guard let entries = reader.mapping(value, what, allowed: ManifestKeys.throttle) else { return nil }
        var throttle = Throttle()
        for (throttleKey, _, throttleValue) in entries {
            switch throttleKey {
            case "max_replica_lag": throttle.maxReplicaLag = positiveDuration(throttleValue, "\(what).max_replica_lag")
            case "autovacuum": throttle.autovacuum = reader.choice(throttleValue, "\(what).autovacuum", Throttle.AutovacuumPolicy.self) ?? .ignore
            case "max_lock_waiters": throttle.maxLockWaiters = reader.int(throttleValue, "\(what).max_lock_waiters", atLeast: 0)
            case "target_batch_duration": throttle.targetBatchDuration = positiveDuration(throttleValue, "\(what).target_batch_duration")
            case "max_wait": throttle.maxWait = positiveDuration(throttleValue, "\(what).max_wait") ?? Throttle.defaultMaxWait
            default: break
            }
        }
        return throttle
    }

    /// `release_when: {production: {clients: "app/{revision}", settle: 10min}}`.
    mutating func readReleaseWhen(_ node: Node) {
        guard case .mapping(let mapping) = node else {
            reader.error(node, "release_when must map tier names to {clients, settle}")
            return
        }
        for (keyNode, value) in mapping {
            guard let tier = reader.nonEmptyString(keyNode, "a tier name in release_when") else { continue }
            let what = "release_when.\(tier)"
            guard let entries = reader.mapping(value, what, allowed: ManifestKeys.releaseGate) else { continue }
            var clients: String?
            var settle: Duration?
            for (key, _, entry) in entries {
                switch key {
                case "clients":
                    clients = reader.nonEmptyString(entry, "\(what).clients")
                    if let pattern = clients, pattern.components(separatedBy: "{revision}").count != 2 {
                        reader.error(entry, "\(what).clients must contain {revision} once, where the application names its revision (\"app/{revision}\")")
                        clients = nil
                    }
                case "settle": settle = reader.duration(entry, "\(what).settle")
                default: break
                }
            }
            guard let clients else {
                if !entries.contains(where: { $0.key == "clients" }) { reader.error(value, "\(what) needs clients: the application_name pattern") }
                continue
            }
            if let first = builder.releaseWhen[tier] {
                reader.error(keyNode, "release_when of tier '\(tier)' is defined twice (first at \(first.location))")
                continue
            }
            builder.releaseWhen[tier] = Located(value: ReleaseGate(clients: clients, settle: settle ?? .zero), location: reader.location(keyNode))
        }
    }

    /// `fleet.metrics: {listen: "127.0.0.1:9187" | /run/drover/metrics.sock, per_database: false}`.
    mutating func readMetrics(_ value: Node) {
        guard let entries = reader.mapping(value, "fleet.metrics", allowed: ManifestKeys.fleetMetrics) else { return }
        var listen: MetricsSettings.Listen?
        var perDatabase = false
        for (key, _, entry) in entries {
            switch key {
            case "listen":
                guard let text = reader.nonEmptyString(entry, "fleet.metrics.listen") else { continue }
                listen = MetricsSettings.listen(parsing: text)
                if listen == nil {
                    reader.error(entry, "fleet.metrics.listen must be HOST:PORT (e.g. \"127.0.0.1:9187\") or an absolute socket path (found '\(text)')")
                }
            case "per_database": perDatabase = reader.bool(entry, "fleet.metrics.per_database") ?? false
            default: break
            }
        }
        if let listen {
            builder.metrics = MetricsSettings(listen: listen, perDatabase: perDatabase)
        } else if !entries.contains(where: { $0.key == "listen" }) {
            reader.error(value, "fleet.metrics needs 'listen' (e.g. listen: \"127.0.0.1:9187\")")
        }
    }

    /// `hooks: [{on: before-phase,failed, tier: production, phase: contract, run: [argv...], timeout: 5min}]`;
    /// several files' hooks add up, in file order.
    mutating func readHooks(_ value: Node) {
        guard let items = reader.sequence(value, "hooks") else { return }
        for item in items {
            guard let entries = reader.mapping(item, "a hook", allowed: ManifestKeys.hook) else { continue }
            var hook = Hook(events: [], run: [], location: reader.location(item))
            for (key, _, entry) in entries {
                switch key {
                case "on":
                    // `on: before-phase,failed` or `on: [before-phase, failed]`.
                    let written: [String] =
                        if case .sequence = entry { reader.stringList(entry, "hook.on") ?? [] } else { reader.string(entry, "hook.on").map { [$0] } ?? [] }
                    let names = written.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
                    for name in names {
                        if let event = Hook.Event(rawValue: name) {
                            hook.events.insert(event)
                        } else {
                            reader.error(entry, "unknown hook event '\(name)'; events: \(Hook.Event.allCases.map(\.rawValue).joined(separator: ", "))")
                        }
                    }
                case "tier": hook.tier = reader.nonEmptyString(entry, "hook.tier")
                case "phase": hook.phase = reader.choice(entry, "hook.phase", Phase.self)
                case "run": hook.run = reader.stringList(entry, "hook.run") ?? []
                case "timeout": hook.timeout = positiveDuration(entry, "hook.timeout") ?? Hook.defaultTimeout
                default: break
                }
            }
            if hook.events.isEmpty { reader.error(item, "a hook needs 'on' with at least one event (e.g. on: before-phase)") }
            if hook.run.isEmpty || hook.run[0].isEmpty {
                reader.error(item, "a hook needs 'run': the command as a list, e.g. run: [/usr/local/bin/backup, --quick]")
            }
            if hook.events.isEmpty || hook.run.isEmpty { continue }
            builder.hooks.append(hook)
        }
    }
}
