import DroverCore
import DroverProtocol
import DroverPostgres
import DroverRunner
import Foundation
import Logging

/// The daemon's core: the fleet definition, the scheduler, the state store, and the
/// phases in flight. One loop observes databases, ticks the scheduler and runs its
/// actions through the phase runner; operators change it through the methods in
/// `Fleet+Commands.swift`. An actor, so that scheduler state has one owner.
public actor Fleet {
    public internal(set) var definition: FleetDefinition
    var scheduler: Scheduler {
        didSet { schedulerChanged = true }
    }
    /// Whether anything reached the scheduler since its last tick (an observation
    /// that differs, a phase's end, an operator's change, a reload). Without that,
    /// and before its next timed wake-up, a tick would decide nothing new: with
    /// 10,000 databases skipping it is most of what an idle daemon saves.
    var schedulerChanged = true
    var nextTimedTick: Date?
    var lastTick = ContinuousClock.now
    let store: StateStore
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
    /// How often each database is re-read when nothing happens to it.
    let pollInterval: Duration
    let tickInterval: Duration

    /// Beats every round of the loop, for the systemd watchdog.
    public nonisolated let heartbeat = Heartbeat()
    /// Ends the loop's sleep early when a phase finished or an operator acted.
    nonisolated let wake = WakeSignal()
    var started = false
    var startWaiters: [CheckedContinuation<Void, Never>] = []

    var running: [String: Task<Void, Never>] = [:]
    /// When each database is read next (`Fleet+Observation.swift`), and no read is
    /// due before `nextObservationCheck`: most rounds skip the walk over the fleet.
    var nextRead: [String: (halfway: Date, due: Date)] = [:]
    var nextObservationCheck = Date.distantPast
    /// Intents of a previous run not yet checked against their databases; nil
    /// until they are read (`Fleet+Intents.swift`).
    var unreconciledIntents: [String: PlannedStep]?
    var lastReconcile: ContinuousClock.Instant?
    var observerConnections: [String: PostgresConnection] = [:]
    /// The read of due databases in progress (`Fleet+Observation.swift`).
    var observation: Task<Void, Never>?
    /// Counts each database's phase starts and ends: a read that began before the
    /// latest of them is stale (it may show the phase's lock and not its row).
    var phaseEvents: [String: Int] = [:]
    /// Connections of finished phases by server and database, for the next phase
    /// there (`Fleet+Connections.swift`).
    var idleConnections: [String: [IdleConnection]] = [:]
    var phaseConnectionUse = PhaseConnectionUse()
    /// Schema tenants' fingerprints waiting for their batch (connection key →
    /// database → revision), and the batch being read (`Fleet+Fingerprints.swift`).
    var pendingFingerprints: [String: [String: String]] = [:]
    var fingerprinting: (task: Task<Void, Never>, names: Set<String>)?
    /// When the first and the last of each connection key's `pendingFingerprints`
    /// were queued.
    var pendingFingerprintsQueued: [String: (first: ContinuousClock.Instant, last: ContinuousClock.Instant)] = [:]
    /// When freed memory goes back to the kernel (`Fleet+Heap.swift`), and how often it did.
    var heapTrim = HeapTrimSchedule()
    var heapTrims = 0
    var savedTiers: [String: TierControl] = [:]
    var stopping = false
    /// Why the state store refused the last write droverd needed, until one succeeds.
    var stateStoreProblem: String?
    var listeners: [UUID: EventListener] = [:]
    /// Databases found by each discover block (by index), and those that vanished.
    var discovered: [Int: [DatabaseSpec]] = [:]
    var lastDiscovery: [Int: Date] = [:]
    var gone: [String: DatabaseSpec] = [:]

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
        self.pollInterval = pollInterval
        self.tickInterval = tickInterval
        self.clock = clock
        self.actorName = "droverd@\(ProcessInfo.processInfo.hostName)"
        var scheduler = Scheduler(manifest: definition.manifest, graph: definition.repository.graph, tiers: try await store.tiers())
        scheduler.expectedDurations = try await store.expectedDurations()
        scheduler.restore(failures: try await store.failures(), pausedDatabases: try await store.pausedDatabases())
        self.scheduler = scheduler
        self.savedTiers = scheduler.tiers
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
        while !Task.isCancelled && !stopping {
            heartbeat.beat()
            await Failpoints.current.reach("scheduler-loop")
            await step()
            await wake.wait(upTo: tickInterval)
        }
        await drain(grace: grace)
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

    /// One round: observe what is due, tick, act. Exposed for tests.
    public func step() async {
        await closeIdleConnections(olderThan: Self.idleConnectionLifetime)
        await discoverDue()
        observeDue()
        fingerprintDue()
        trimHeapDue()
        guard role.startsPhases else { return await followSharedState() }
        if unreconciledIntents?.isEmpty != true, lastReconcile.map({ ContinuousClock.now - $0 >= Self.reconcileInterval }) ?? true {
            lastReconcile = .now
            await reconcileIntents()
        }
        let now = clock()
        guard schedulerChanged || nextTimedTick.map({ now >= $0 }) == true || ContinuousClock.now - lastTick >= Self.quietTickInterval else { return }
        let actions = scheduler.tick(now: now)
        schedulerChanged = false
        lastTick = .now
        nextTimedTick = actions.lazy.compactMap { if case .wakeUp(let at) = $0 { at } else { nil } }.min()
        await execute(actions)
        await persistTiers()
    }

    /// A tick at least this often even when nothing seems to have changed.
    static let quietTickInterval: Duration = .seconds(5)

    /// Stop starting phases (SIGTERM).
    public func stop() { stopping = true }

    private func drain(grace: Duration) async {
        let deadline = ContinuousClock.now + grace
        while !running.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for (name, task) in running {
            logger.warning("cancelling the running phase at shutdown", metadata: ["db": "\(name)"])
            task.cancel()
        }
        for task in running.values { await task.value }
        await fingerprintsSettled()
        await observation?.value
        for connection in observerConnections.values { await connection.close() }
        observerConnections = [:]
        await closeIdleConnections(olderThan: .zero)
        await store.close()
    }

    /// Makes an operator's change of tier state (promote, release, deploy, pause,
    /// resume) durable before it is acknowledged, so a crash right after the answer
    /// cannot lose it. When the state store refuses, the change is undone.
    func persistTierChange(undoing previous: [String: TierControl]) async throws(FleetError) {
        for (tier, control) in scheduler.tiers.sorted(by: { $0.key < $1.key }) where savedTiers[tier] != control {
            do {
                try await store.save(tier: tier, control)
                savedTiers[tier] = control
            } catch {
                scheduler.tiers = previous
                throw .stateStore("cannot record the change of tier \(tier), so it was not made: \(error)")
            }
        }
    }

    private func persistTiers() async {
        guard role.startsPhases else { return }  // a follower's copy is the leader's, read back
        for (tier, control) in scheduler.tiers where savedTiers[tier] != control {
            do {
                try await store.save(tier: tier, control)
                savedTiers[tier] = control
            } catch {
                logger.error("cannot save tier state: \(error)", metadata: ["tier": "\(tier)"])
            }
        }
    }

    // MARK: Events

    /// Live events until the consumer stops listening (`droverctl watch`); a consumer
    /// that falls behind gets a `dropped` event where its gap is (`EventListener`).
    /// `kinds`: only events of these kinds (and `dropped`).
    public func events(kinds: Set<String>? = nil) -> AsyncStream<FleetEvent> {
        let (listener, stream) = EventListener.make(kinds: kinds)
        let id = UUID()
        listeners[id] = listener
        listener.onTermination { [weak self] _ in
            Task { await self?.removeListener(id) }
        }
        return stream
    }

    private func removeListener(_ id: UUID) { listeners[id] = nil }

    func emit(_ kind: String, _ message: String, database: String? = nil, tier: String? = nil, step: PlannedStep? = nil) {
        let event = FleetEvent(at: clock(), database: database, tier: tier, revision: step?.revision, phase: step?.phase, kind: kind, message: message)
        for id in listeners.keys { listeners[id]?.send(event) }
    }
}
