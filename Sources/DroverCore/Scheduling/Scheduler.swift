import Foundation

/// The fleet scheduler (docs/states.md, §6) as a plain state machine: events arrive as
/// mutating methods, `tick(now:)` returns the actions to take. No I/O and no clock
/// of its own, so every gate is tested by feeding events and comparing actions.
///
/// Where each gate lives:
/// - tier targets, preview following the head: `target(ofTier:)`
/// - waves, soak, failure budgets, halts: `advanceWaves`
/// - pause, tampered, unreachable, locked, failed, release, windows, concurrency:
///   `startableStep` and `windowGate`
/// - cancelling window-bound phases at the window's end: `cancelExpired`
/// - operators' commands (promote, release, pause, retry, ...): `Scheduler+Commands.swift`
public struct Scheduler: Sendable {
    public private(set) var manifest: Manifest {
        didSet {
            (positions, servers) = Self.index(manifest)
            waveAssignments = [:]
            waveCapacities = [:]
            settledPrefixes = [:]
        }
    }
    public private(set) var graph: RevisionGraph
    /// Where each database is in `manifest.databases`, by name: lookups stay O(1)
    /// with 100,000 tenants, and no spec is held twice.
    private var positions: [String: Int]
    /// host:port of each database, parsed once: `max_per_server` is checked for
    /// every database in every tick.
    private var servers: [String: String]
    /// Which databases each wave of a tier holds, and how many of them may move at
    /// once; both change only with the manifest.
    private var waveAssignments: [String: WaveAssignment] = [:]
    private var waveCapacities: [String: [Int: Int]] = [:]
    /// How many leading members of each wave are settled (at the tier's target with
    /// nothing left to run until the target or the release moves): the walks of a
    /// tick start past them, so a tick costs what is still moving, not the whole
    /// wave. Keyed by tier and wave index; valid for the target and release it was
    /// counted for, and cut back to a member whose records or runtime change
    /// (`unsettle`).
    private var settledPrefixes: [String: [Int: SettledPrefix]] = [:]
    /// The databases with a phase running and those with a failure, kept with
    /// `runtime` (`updateRuntime`): a tick counts and gates them without walking
    /// the fleet, which at 10,000 tenants and a tick per phase end was most of
    /// droverd's CPU.
    public private(set) var runningNames: Set<String> = []
    public private(set) var failedNames: Set<String> = []
    /// Backfills between two runs after `max_wait` throttled, and why they wait.
    public private(set) var throttledWaits: [String: String] = [:]
    /// What operators and waves decided per tier; changed only by events.
    public internal(set) var tiers: [String: TierControl]
    public internal(set) var pausedDatabases: Set<String> = []
    /// Why a paused database is paused, when an operator said (`droverctl cancel`).
    public internal(set) var pauseReasons: [String: String] = [:]
    public private(set) var observations: [String: ObservedDatabase] = [:]
    /// Each observed database's cursors, computed when its records change rather
    /// than for every database in every tick.
    public private(set) var revisionStates: [String: RevisionState] = [:]
    /// Databases with no entry are `.idle` (an entry that becomes idle goes).
    public private(set) var runtime: [String: DatabaseRuntime] = [:]
    /// Last duration per `tier/revision/phase`: the expected time of a window-bound phase.
    public private(set) var expectedDurations: [String: Duration] = [:]
    /// Used when a phase has never run in a tier (docs/states.md).
    public static let defaultExpectedDuration: Duration = .seconds(300)

    public init(manifest: Manifest, graph: RevisionGraph, tiers: [String: TierControl] = [:]) {
        self.manifest = manifest
        (self.positions, self.servers) = Self.index(manifest)
        self.graph = graph
        self.tiers = tiers
    }

    // MARK: Events

    /// State kept across restarts: failures waiting for `retry`, paused databases,
    /// how long phases took.
    public mutating func restore(
        failures: [String: DatabaseRuntime.Failure], pausedDatabases: Set<String>, pauseReasons: [String: String] = [:],
        expectedDurations: [String: Duration] = [:]
    ) {
        for (name, failure) in failures { updateRuntime(name) { $0 = .failed(failure) } }
        self.pausedDatabases = pausedDatabases
        self.pauseReasons = pauseReasons
        self.expectedDurations.merge(expectedDurations) { _, stored in stored }
    }

    /// The tiers, failures and pauses of a shared state store replace this
    /// scheduler's own (a follower reading back what its leader decided; a new
    /// leader taking over). A phase running here keeps running.
    public mutating func replaceShared(
        tiers: [String: TierControl]? = nil, failures: [String: DatabaseRuntime.Failure], pausedDatabases: Set<String>,
        pauseReasons: [String: String] = [:], expectedDurations: [String: Duration]? = nil
    ) {
        if let tiers { self.tiers = tiers }
        if let expectedDurations { self.expectedDurations = expectedDurations }
        for name in failedNames.union(failures.keys) where runtime[name]?.failure != failures[name] && runtime[name]?.running == nil {
            updateRuntime(name) { $0 = failures[name].map { .failed($0) } ?? .idle }
        }
        self.pausedDatabases = pausedDatabases
        self.pauseReasons = pauseReasons
    }

    /// A read of the database (its `problem` says why an unreachable one could not
    /// be read, for status).
    public mutating func observed(_ name: String, _ observation: ObservedDatabase) {
        if observations[name]?.records != observation.records || revisionStates[name] == nil {
            revisionStates[name] = RevisionState(graph: graph, records: observation.records)
            unsettle(name)  // a revert, a stamp, someone else's change: it may need work again
        }
        var observation = observation
        if !observation.reachable, observation.problem == nil { observation.problem = observations[name]?.problem }
        observations[name] = observation
    }

    /// The database list or the revisions changed (reload, discovery). Databases
    /// that vanished are `gone` (no longer listed, their observations kept); new
    /// ones join their tier's waves and are read at once.
    @discardableResult
    public mutating func replace(manifest: Manifest, graph: RevisionGraph) -> [SchedulerAction] {
        let known = Set(positions.keys)
        let added = manifest.databases.map(\.name).filter { !known.contains($0) }
        self.manifest = manifest  // also forgets the settled prefixes
        self.graph = graph
        revisionStates = observations.mapValues { RevisionState(graph: graph, records: $0.records) }
        return added.map { .readSoon(database: $0) }
    }

    /// `alembicVersions`: the Alembic version table after the phase, when it ran
    /// through Alembic, so that status never shows it behind the phase.
    public mutating func phaseSucceeded(_ name: String, step: PlannedStep, at now: Date, duration: Duration, alembicVersions: [String]? = nil) {
        updateRuntime(name) { $0 = .idle }
        if var observation = observations[name] {
            observation.records.removeAll { $0.revision == step.revision && $0.phase == step.phase }
            // With the checksum the database recorded, so that a later edit of the file
            // shows as tampered before the next phase starts.
            let checksum = graph[step.revision]?.sections[step.phase]?.checksum
            observation.records.append(TrackingRecord(revision: step.revision, phase: step.phase, status: .applied, checksum: checksum, finishedAt: now))
            if let alembicVersions { observation.alembicVersions = alembicVersions }
            observations[name] = observation
            revisionStates[name] = RevisionState(graph: graph, records: observation.records)
        }
        if let tier = spec(name)?.tier {
            expectedDurations["\(tier)/\(step.revision)/\(step.phase.rawValue)"] = duration
        }
    }

    /// A phase ended without applying: the database waits, fails or is tampered.
    /// A failure is to be written to the state store; the database is read again.
    @discardableResult
    public mutating func phaseFailed(_ name: String, step: PlannedStep, _ failure: PhaseFailure, at now: Date) -> [SchedulerAction] {
        let attempts = runtime[name]?.failure?.attempts ?? 0
        updateRuntime(name) { state in
            switch failure {
            case .failed(let message):
                state = .failed(DatabaseRuntime.Failure(step: step, message: message, attempts: attempts + 1))
            case .unreachable(_, let delay):
                state = .waiting(until: now.addingTimeInterval(delay.seconds), .unreachable)
            case .locked(_, let delay):
                state = .waiting(until: now.addingTimeInterval(delay.seconds), .locked)
            case .notStarted(let message, let delay):
                state = .waiting(until: now.addingTimeInterval(delay.seconds), .notStarted(message))
            case .throttled(let reason, let delay):
                state = .waiting(until: now.addingTimeInterval(delay.seconds), .throttled(reason))
            case .cancelled, .tampered:
                state = .idle
            }
        }
        switch failure {
        case .tampered(let sections):
            revisionStates[name]?.tampered = sections
            unsettle(name)
        case .unreachable(let message, _):
            observations[name]?.reachable = false
            observations[name]?.problem = message
        case .locked(let pid, _):
            observations[name]?.lockedBy = pid ?? -1
        case .failed:
            return [.persist(.failure(database: name, runtime[name]?.failure)), .readSoon(database: name)]
        case .notStarted:
            return []
        case .cancelled, .throttled:
            break
        }
        return [.readSoon(database: name)]
    }

    // MARK: Decisions

    public mutating func tick(now: Date) -> [SchedulerAction] {
        let tiersBefore = tiers
        var actions = cancelExpired(now: now)
        var wake: Date?
        func wakeAt(_ date: Date?) {
            guard let date, date > now else { return }
            wake = min(wake ?? date, date)
        }
        // Concurrency counts slots: a lane of tenants takes one.
        var runningPerServer: [String: Int] = [:]
        var slots: Set<String> = []
        for name in runningNames {
            if let spec = spec(name), slots.insert(slot(of: name)).inserted {
                runningPerServer[servers[spec.name] ?? spec.dsn, default: 0] += 1
            }
            wakeAt(runtime[name]?.running?.mustEndBy)  // a window-bound phase is cancelled at its window's end
        }
        for tier in manifest.fleet.pipeline {
            guard let target = target(ofTier: tier) else { continue }
            let released = releasedThrough(tier: tier, target: target)
            let openWaves = advanceWaves(tier: tier, target: target, released: released, now: now, actions: &actions, wakeAt: wakeAt)
            let control = tiers[tier] ?? TierControl()
            guard !control.paused, control.halt == nil else { continue }
            for (index, names) in openWaves {
                let wave = manifest.waves(ofTier: tier)[index]
                let assignment = waveAssignments[tier]
                var runningInWave = Set(runningNames.filter { assignment?.wave(of: $0) == index }.map(slot(of:))).count
                let capacity = waveCapacity(tier: tier, index: index, names: assignment?.members[index] ?? Array(names))
                var lanes = LaneBuilder()
                for name in names {
                    // A full wave starts nothing more: with thousands of tenants the
                    // rest of the list is not worth walking at every phase's end.
                    if runningInWave >= capacity && !lanes.anyRoom { break }
                    guard let spec = spec(name) else { continue }
                    let server = servers[spec.name] ?? spec.dsn
                    let joins = lanes.hasRoom(for: spec.connectionKey)
                    let limits = Limits(runningInWave: runningInWave, runningOnServer: runningPerServer[server, default: 0], joiningLane: joins)
                    switch startableStep(spec, tier: tier, target: target, released: released, wave: wave, limits: limits, now: now) {
                    case .start(let step, let mustEndBy):
                        var running = DatabaseRuntime.RunningPhase(step: step, startedAt: now, mustEndBy: mustEndBy)
                        if mayJoinLane(spec, step: step, mustEndBy: mustEndBy) {
                            if !joins {
                                guard limits.allowNewSlot(wave: wave, spec: spec) else { continue }
                                runningInWave += 1
                                runningPerServer[server, default: 0] += 1
                            }
                            running.lane = lanes.add(LaneMember(database: name, step: step), key: spec.connectionKey)
                        } else {
                            guard limits.allowNewSlot(wave: wave, spec: spec) else { continue }
                            actions.append(.start(database: name, step: step))
                            runningInWave += 1
                            runningPerServer[server, default: 0] += 1
                        }
                        updateRuntime(name) { $0 = .running(running) }
                    case .wait(let until):
                        wakeAt(until)
                    case .blocked:
                        break
                    }
                }
                actions += lanes.actions
            }
        }
        // Halts and finished waves outlive the process.
        for (tier, control) in tiers.sorted(by: { $0.key < $1.key }) where tiersBefore[tier] ?? TierControl() != control {
            actions.append(.persist(.tier(tier, control)))
        }
        if let wake { actions.append(.wakeUp(at: wake)) }
        return actions
    }

    /// The revision a tier should reach: the first tier follows the repository head
    /// unless pinned; later tiers move only when promoted.
    public func database(named name: String) -> DatabaseSpec? { spec(name) }

    private func spec(_ name: String) -> DatabaseSpec? { positions[name].map { manifest.databases[$0] } }

    private static func index(_ manifest: Manifest) -> ([String: Int], [String: String]) {
        var positions: [String: Int] = [:]
        var servers: [String: String] = [:]
        positions.reserveCapacity(manifest.databases.count)
        servers.reserveCapacity(manifest.databases.count)
        // Thousands of schema tenants share a few conninfos: parse each once.
        var byConninfo: [String: String] = [:]
        for (position, spec) in manifest.databases.enumerated() where positions[spec.name] == nil {
            positions[spec.name] = position
            if let known = byConninfo[spec.dsn] {
                servers[spec.name] = known
            } else {
                let server = ConninfoInspection.server(of: spec.dsn) ?? spec.dsn
                byConninfo[spec.dsn] = server
                servers[spec.name] = server
            }
        }
        return (positions, servers)
    }

    public func target(ofTier tier: String) -> String? {
        if let target = tiers[tier]?.target { return target }
        return tier == manifest.fleet.pipeline.first ? graph.head : nil
    }

    // MARK: Gates

    /// Cancels window-bound phases that are still running when their window closes.
    private mutating func cancelExpired(now: Date) -> [SchedulerAction] {
        var actions: [SchedulerAction] = []
        for name in runningNames.sorted() {
            guard var running = runtime[name]?.running, let end = running.mustEndBy, now >= end, !running.cancelRequested else { continue }
            running.cancelRequested = true
            updateRuntime(name) { $0 = .running(running) }
            actions.append(.cancel(database: name, step: running.step, because: .windowClosed(at: end)))
        }
        return actions
    }

    /// Records finished waves and halts; returns the waves whose databases may start
    /// phases now (every earlier wave finished and soaked).
    /// The members of each open wave come past their settled prefix: a settled
    /// database has no failure and is expanded, so neither count nor gate needs it.
    private mutating func advanceWaves(
        tier: String, target: String, released: String?, now: Date, actions: inout [SchedulerAction], wakeAt: (Date?) -> Void
    ) -> [(Int, ArraySlice<String>)] {
        let waves = manifest.waves(ofTier: tier)
        let assignment = waveAssignments[tier] ?? waveAssignment(tier: tier)
        waveAssignments[tier] = assignment
        var control = tiers[tier] ?? TierControl()
        var open: [(Int, ArraySlice<String>)] = []
        var previousDone = true
        for (index, wave) in waves.enumerated() {
            let all = assignment.members[index]
            let names = all[settledPrefix(tier: tier, index: index, names: all, target: target, released: released)...]
            // Failed members in wave order; a settled member has no failure.
            let failed = failedNames.filter { assignment.wave(of: $0) == index }.sorted { assignment.position(of: $0) < assignment.position(of: $1) }
            if control.halt == nil, failed.count > wave.failureBudget.allowedFailures(waveSize: all.count) {
                control.halt = TierControl.Halt(wave: wave.name, failed: failed, at: now)
                actions.append(.halt(tier: tier, wave: wave.name, failed: failed))
            }
            guard previousDone else { break }
            open.append((index, names))
            let finished = names.allSatisfy { isExpanded($0, to: target) || runtime[$0]?.failure != nil }
            if finished, control.wavesFinished[index] == nil {
                control.wavesFinished[index] = now
                actions.append(.waveFinished(tier: tier, wave: wave.name))
            }
            guard let finishedAt = control.wavesFinished[index] else {
                previousDone = false
                continue
            }
            let soakEnd = finishedAt.addingTimeInterval(wave.soak.seconds)
            if now < soakEnd {
                wakeAt(soakEnd)
                previousDone = false
            }
        }
        tiers[tier] = control
        return open
    }

    private struct SettledPrefix {
        var target: String
        var released: String?
        var count: Int
    }

    /// Every change of a database's runtime goes through here, so that
    /// `runningNames` and `failedNames` stay true.
    mutating func updateRuntime(_ name: String, _ change: (inout DatabaseRuntime) -> Void) {
        change(&runtime[name, default: .idle])
        guard let state = runtime[name] else { return }
        if state.running != nil { runningNames.insert(name) } else { runningNames.remove(name) }
        if state.failure != nil { failedNames.insert(name) } else { failedNames.remove(name) }
        throttledWaits[name] = state.throttledBecause
        if state != .idle { unsettle(name) } else { runtime[name] = nil }  // 100,000 idle entries were 20 MB
    }

    /// Cuts the settled prefix of the database's wave back to just before it: a
    /// settled database whose records or runtime change may need work again.
    mutating func unsettle(_ name: String) {
        guard let tier = spec(name)?.tier, let assignment = waveAssignments[tier],
            let index = assignment.wave(of: name), let known = settledPrefixes[tier]?[index]
        else { return }
        let position = assignment.position(of: name)
        if known.count > position { settledPrefixes[tier]?[index]?.count = position }
    }

    /// Extends the wave's settled prefix as far as its members allow and returns it.
    private mutating func settledPrefix(tier: String, index: Int, names: [String], target: String, released: String?) -> Int {
        var count = 0
        if let known = settledPrefixes[tier]?[index], known.target == target, known.released == released {
            count = min(known.count, names.count)
        }
        while count < names.count, isSettled(names[count], target: target, released: released) { count += 1 }
        settledPrefixes[tier, default: [:]][index] = SettledPrefix(target: target, released: released, count: count)
        return count
    }

    /// Nothing left to do until the tier's target or release moves, and last read
    /// fine: such a database may be read less often.
    public func isAtRest(_ name: String) -> Bool {
        guard let tier = spec(name)?.tier, let target = target(ofTier: tier), observations[name]?.reachable == true else { return false }
        return isSettled(name, target: target, released: releasedThrough(tier: tier, target: target))
    }

    /// At the target, contracted as far as the release (or the target) allows,
    /// nothing running, nothing failed: only a new target, a new release or changed
    /// records can give it work.
    private func isSettled(_ name: String, target: String, released: String?) -> Bool {
        guard let state = revisionStates[name], state.expanded == target, !state.isTampered,
            state.contracted == target || state.contracted == released
        else { return false }
        return runtime[name]?.running == nil && runtime[name]?.failure == nil
    }

    private enum StepDecision {
        case start(PlannedStep, mustEndBy: Date?)
        case wait(until: Date?)
        case blocked
    }

    private struct Limits {
        var runningInWave: Int
        var runningOnServer: Int
        /// The database may join a lane of this tick, which needs no slot.
        var joiningLane = false

        /// Whether one more slot fits in the wave and on the server.
        func allowNewSlot(wave: WaveSpec, spec: DatabaseSpec) -> Bool {
            runningInWave < wave.maxParallel ?? spec.settings.maxParallel && runningOnServer < spec.settings.maxPerServer
        }
    }

    private func startableStep(_ spec: DatabaseSpec, tier: String, target: String, released: String?, wave: WaveSpec, limits: Limits, now: Date) -> StepDecision
    {
        let name = spec.name
        let state = runtime[name] ?? .idle
        guard state.running == nil, state.failure == nil, !pausedDatabases.contains(name) else { return .blocked }
        if let notBefore = state.notBefore, now < notBefore { return .wait(until: notBefore) }
        guard let observation = observations[name], observation.reachable || state.notBefore != nil else { return .blocked }
        if observation.lockedBy != nil && state.notBefore == nil { return .blocked }
        // Concurrency (per wave or tier, per server) before planning: in a large
        // wave most databases wait for a slot, and planning is the costly part.
        guard limits.joiningLane || limits.allowNewSlot(wave: wave, spec: spec) else { return .blocked }
        guard let revisionState = revisionStates[name], !revisionState.isTampered, alembicHold(name) == nil else { return .blocked }
        // At the target with everything released contracted: nothing to plan.
        if revisionState.expanded == target && (revisionState.contracted == released || revisionState.contracted == target) { return .blocked }
        guard let step = nextStep(name, tier: tier, target: target, records: observation.records) else { return .blocked }

        return windowGate(spec, tier: tier, step: step, now: now)
    }

    /// A window-bound phase starts only inside the window with its expected duration
    /// left; it must end with the window.
    private func windowGate(_ spec: DatabaseSpec, tier: String, step: PlannedStep, now: Date) -> StepDecision {
        let policy = step.phase == .contract ? spec.settings.contract : spec.settings.expand
        guard policy == .inWindow, let window = manifest.windows[spec.window] else { return .start(step, mustEndBy: nil) }
        let schedule = WindowSchedule(window)
        let expected = expectedDuration(tier: tier, step: step)
        guard let earliest = schedule.earliestStart(from: now, expected: expected) else { return .blocked }
        guard earliest <= now else { return .wait(until: earliest) }
        let end = schedule.opening(containing: now)?.end
        return .start(step, mustEndBy: end == .distantFuture ? nil : end)
    }

    func expectedDuration(tier: String, step: PlannedStep) -> Duration {
        expectedDurations["\(tier)/\(step.revision)/\(step.phase.rawValue)"] ?? Self.defaultExpectedDuration
    }

    /// The next phase the database needs: contracts only up to the tier's release
    /// (and never past its target).
    func nextStep(_ name: String, tier: String, target: String, records: [TrackingRecord]) -> PlannedStep? {
        PhasePlanner.steps(graph: graph, records: records, target: target, contractThrough: releasedThrough(tier: tier, target: target)).first
    }

    func releasedThrough(tier: String, target: String) -> String? {
        guard let released = tiers[tier]?.released else { return nil }
        return graph.isAncestor(released, of: target) ? released : target
    }

    /// Whether the database has `target` (or a later revision) expanded.
    public func isExpanded(_ name: String, to target: String) -> Bool {
        guard let expanded = revisionStates[name]?.expanded else { return false }
        return graph.isAncestor(target, of: expanded)
    }

    /// The most databases of the wave that may run at once: its `max_parallel`, or
    /// the largest of its databases' own.
    private mutating func waveCapacity(tier: String, index: Int, names: [String]) -> Int {
        if let known = waveCapacities[tier]?[index] { return known }
        let capacity = manifest.waves(ofTier: tier)[index].maxParallel ?? names.compactMap { spec($0)?.settings.maxParallel }.max() ?? 0
        waveCapacities[tier, default: [:]][index] = capacity
        return capacity
    }

    /// The tier's waves as the last tick assigned them, or assigned now when no tick has.
    public func waveAssignmentKnown(tier: String) -> WaveAssignment {
        waveAssignments[tier] ?? waveAssignment(tier: tier)
    }

    func waveAssignment(tier: String) -> WaveAssignment {
        let members = manifest.databases.filter { $0.tier == tier }
        return WaveAssignment.assign(members.map { ($0.name, $0.labels) }, to: manifest.waves(ofTier: tier))
    }
}
