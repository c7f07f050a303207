import DroverCore
import DroverPostgres
import DroverProtocol
import DroverRunner
import Foundation
import Logging

/// The daemon's shell around the scheduler: it owns the parts that do I/O and runs
/// one loop, each round a pipeline (`step`): read what is due → feed the
/// scheduler what happened (reads, phases' ends) → tick → carry out its actions.
/// Operators reach it through `Fleet+Commands.swift`, whose commands are events of
/// the scheduler too. An actor, so that the scheduler has one owner.
///
/// Each part has one job and its own file: the read schedule
/// (`Observation/ObservationSchedule.swift`), kept connections
/// (`Connections/ConnectionCache.swift`), the fingerprint queue
/// (`Fingerprints/FingerprintQueue.swift`), discovery
/// (`Discovery/DiscoveredDatabases.swift`), live events (`Events/EventHub.swift`),
/// the tick gate and the wake signal (`Loop/`).
public actor Fleet {
    public internal(set) var definition: FleetDefinition
    /// Every decision: targets, waves, gates, failures (`DroverCore/Scheduling`).
    var scheduler: Scheduler {
        didSet { tickGate.schedulerChanged() }
    }
    var tickGate = TickGate()
    let store: StateStore
    /// Why the state store refused the last write droverd needed, until one succeeds.
    var stateStoreProblem: String?
    /// Set when several droverd share a PostgreSQL state store (`Fleet+Leadership.swift`).
    public nonisolated let leadership: Leadership?
    /// Whether this instance starts phases: always on a state file, only while it
    /// holds the lease on a shared store.
    public internal(set) var role: FleetRole
    var lastSharedRead: ContinuousClock.Instant?
    let logger: Logger
    let clock: @Sendable () -> Date
    /// `applied_by` in tracking rows.
    let actorName: String
    let tickInterval: Duration

    /// Beats every round of the loop, for the systemd watchdog.
    public nonisolated let heartbeat = Heartbeat()
    /// Ends the loop's sleep early when a phase finished, a read came back or an operator acted.
    nonisolated let wake = WakeSignal()
    var started = false
    var startWaiters: [CheckedContinuation<Void, Never>] = []
    var stopping = false

    /// Phases in flight, and where they leave their ends for the next round.
    var running: [String: Task<Void, Never>] = [:]
    nonisolated let phaseEnds = CompletionInbox<PhaseCompletion>()
    /// Why throttled backfills wait, and what `watch` has been told of it.
    nonisolated let throttles = ThrottleBoard()
    var announcedThrottles: [String: String] = [:]
    /// Intents of a previous run not yet checked against their databases; nil
    /// until they are read (`Fleet+Intents.swift`).
    var unreconciledIntents: [String: PlannedStep]?
    var lastReconcile: ContinuousClock.Instant?

    var readSchedule: ObservationSchedule
    /// The read of due databases in progress (`Fleet+Observation.swift`).
    var reading: Task<Void, Never>?
    var connections = ConnectionCache<PostgresConnection>()
    var fingerprints = FingerprintQueue()
    /// The fingerprint batch being read, and whose fingerprints it holds.
    var fingerprinting: (task: Task<Void, Never>, names: Set<String>)?
    var discovery = DiscoveredDatabases()
    /// `release_when`: what each gated tier waits on, and the read of client sessions in progress.
    var releaseGates = ReleaseGateWatch()
    var releaseGateRead: Task<Void, Never>?
    var lastReleaseGateRead: ContinuousClock.Instant?
    var events = EventHub()
    /// What the metrics count as phases end (`Fleet+Metrics.swift`).
    var phaseCounters = PhaseCounters()
    /// Runs `hooks` of the manifest (`Fleet+Hooks.swift`).
    nonisolated let hooks = HookRunner()
    /// The drifted databases, and the comparison in progress (`Fleet+Drift.swift`).
    var driftWatch = DriftWatch()
    var driftComparison: Task<Void, Never>?
    /// When freed memory goes back to the kernel (`Fleet+Heap.swift`).
    var heapTrim = HeapTrimSchedule()
    #if DROVER_TEST_HOOKS
    /// For tests: how often the heap was trimmed, what the phases' connections cost.
    var heapTrims = 0
    var phaseConnectionUse = PhaseConnectionUse()
    #endif

    public init(
        definition: FleetDefinition,
        store: StateStore,
        leadership: Leadership? = nil,
        logger: Logger = Logger(label: "droverd"),
        pollInterval: Duration = .seconds(15),
        tickInterval: Duration = .milliseconds(250),
        clock: @escaping @Sendable () -> Date = { Date() }
    ) async throws {
        self.definition = definition
        self.store = store
        self.leadership = leadership
        self.role = leadership == nil ? .sole : .follower(leader: nil)
        self.logger = logger
        self.readSchedule = ObservationSchedule(pollInterval: pollInterval)
        self.tickInterval = tickInterval
        self.clock = clock
        self.actorName = "droverd@\(ProcessInfo.processInfo.hostName)"
        var scheduler = Scheduler(manifest: definition.manifest, graph: definition.repository.graph, tiers: try await store.tiers())
        scheduler.restore(
            failures: try await store.failures(), pausedDatabases: try await store.pausedDatabases(),
            pauseReasons: try await store.pauseReasons(), expectedDurations: try await store.expectedDurations())
        self.scheduler = scheduler
    }

    /// The manifest in force, discovered databases included.
    var manifest: Manifest { scheduler.manifest }
    var graph: RevisionGraph { definition.repository.graph }

    /// A phase runner for the repository in force; `actor` goes to `applied_by`.
    func makeRunner(actor: String? = nil) -> PhaseRunner {
        let alembic = definition.repository.alembic.map { AlembicRunner(project: $0, command: manifest.fleet.alembic) }
        return PhaseRunner(graph: graph, actor: actor ?? actorName, logger: logger, alembic: alembic)
    }

    // MARK: The loop

    /// Runs until the task is cancelled or `stop()` is called; then lets running
    /// phases finish for `grace` and cancels the rest (they roll back).
    public func run(grace: Duration = .seconds(30)) async {
        if role == .sole { await reconcileIntents() }  // a leader does it when it takes over
        await discoverDue(force: true)
        markStarted()
        wake.tick(every: tickInterval)
        while !Task.isCancelled && !stopping {
            heartbeat.beat()
            await Failpoints.current.reach("scheduler-loop")
            await step()
            await wake.wait()
        }
        await drain(grace: grace)
        wake.stopTicking()
    }

    /// Returns once the loop has reconciled what was in flight and run discovery
    /// (systemd's READY=1 waits for this).
    public func waitUntilStarted() async {
        guard !started else { return }
        await withCheckedContinuation { startWaiters.append($0) }
    }

    private func markStarted() {
        started = true
        for waiter in startWaiters { waiter.resume() }
        startWaiters = []
    }

    /// One round: upkeep, reads, then what happened goes to the scheduler and its
    /// actions are carried out.
    private func step() async {
        await closeIdleConnections(olderThan: ConnectionCache<PostgresConnection>.idleLifetime)
        await discoverDue()
        observeDue()
        fingerprintDue()
        compareDriftDue()
        trimHeapDue()
        // Phases end whatever the role: one started while this instance led and
        // ending after it lost the lease is still recorded.
        var round = takePhaseEnds()
        announceThrottles()
        guard role.startsPhases else {
            await record(round)
            return await followSharedState()
        }
        watchReleaseGatesDue()
        await reconcileIntentsDue()
        let now = clock()
        if tickGate.isDue(now: now, instant: .now) {
            let actions = scheduler.tick(now: now)
            tickGate.ticked(at: .now, wakeUp: actions.lazy.compactMap { if case .wakeUp(let at) = $0 { at } else { nil } }.min())
            await execute(actions, round: &round)
        }
        await record(round)
    }

    /// Stop starting phases (SIGTERM).
    public func stop() { stopping = true }

    private func drain(grace: Duration) async {
        let deadline = ContinuousClock.now + grace
        while !running.isEmpty && ContinuousClock.now < deadline {
            await record(takePhaseEnds())
            if running.isEmpty { break }
            await wake.wait()  // a phase's end, or the next tick
        }
        for (name, task) in running {
            logger.warning("cancelling the running phase at shutdown", metadata: ["db": "\(name)"])
            task.cancel()
        }
        for task in running.values { await task.value }
        await record(takePhaseEnds())
        await fingerprintsSettled()
        await reading?.value
        await releaseGateRead?.value
        await driftComparison?.value
        for connection in connections.takeAll() { await connection.close() }
        await store.close()
    }

    // MARK: Events

    /// Live events until the consumer stops listening (`droverctl watch`); a consumer
    /// that falls behind gets a `dropped` event where its gap is (`EventListener`).
    /// `kinds`: only events of these kinds (and `dropped`).
    public func events(kinds: Set<String>? = nil) -> AsyncStream<FleetEvent> {
        let (id, listener, stream) = events.subscribe(kinds: kinds)
        listener.onTermination { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return stream
    }

    private func unsubscribe(_ id: UUID) { events.unsubscribe(id) }

    func emit(_ kind: String, _ message: String, database: String? = nil, tier: String? = nil, step: PlannedStep? = nil, revision: String? = nil) {
        let revision = step?.revision ?? revision
        events.send(FleetEvent(at: clock(), database: database, tier: tier, revision: revision, phase: step?.phase, kind: kind, message: message))
        notifyHooks(kind, message, database: database, tier: tier, step: step, revision: revision)
    }
}
