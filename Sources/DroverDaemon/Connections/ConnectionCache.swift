import DroverCore
import DroverPostgres

/// What a cache needs of a connection: whether it still works.
protocol ReusableConnection: AnyObject, Sendable {
    var isBroken: Bool { get }
}

extension PostgresConnection: ReusableConnection {}

/// Connections droverd keeps between uses. Phases: a connection a phase finished
/// with is kept for the next phase on the same server, database and credentials (a
/// database's phases follow each other, and schema tenants of one database take
/// turns on a few connections instead of connecting once per phase); each phase
/// resets the session (`RunnerSession.prepare`), so nothing carries over.
/// Observers: one per conninfo that several databases share. Plain state: the
/// caller closes what comes out of it.
struct ConnectionCache<Connection: ReusableConnection> {
    /// Connections unused for longer than this are closed.
    static var idleLifetime: Duration { .seconds(2) }

    private(set) var idle: [String: [(connection: Connection, since: ContinuousClock.Instant)]] = [:]
    /// The observers' connections by conninfo, lent out while a read runs.
    var observers: [String: Connection] = [:]

    /// A working idle connection for `key`, and the broken ones found on the way.
    mutating func take(_ key: String) -> (Connection?, broken: [Connection]) {
        var broken: [Connection] = []
        while let candidate = idle[key]?.popLast() {
            if !candidate.connection.isBroken { return (candidate.connection, broken) }
            broken.append(candidate.connection)
        }
        return (nil, broken)
    }

    mutating func keep(_ connection: Connection, for key: String, at instant: ContinuousClock.Instant) {
        idle[key, default: []].append((connection, instant))
    }

    /// The idle connections unused for `age` or longer, taken out.
    mutating func expire(olderThan age: Duration, at instant: ContinuousClock.Instant) -> [Connection] {
        var expired: [Connection] = []
        for (key, connections) in idle {
            let fresh = connections.filter { instant - $0.since < age }
            expired += connections.filter { instant - $0.since >= age }.map(\.connection)
            idle[key] = fresh.isEmpty ? nil : fresh
        }
        return expired
    }

    /// Everything, taken out (shutdown).
    mutating func takeAll() -> [Connection] {
        defer { (idle, observers) = ([:], [:]) }
        return idle.values.flatMap { $0.map(\.connection) } + Array(observers.values)
    }
}

/// The server, database and credentials a connection was made with.
func connectionKey(_ spec: DatabaseSpec) -> String { spec.connectionKey }

#if DROVER_TEST_HOOKS
/// What the phases that kept their connection cost in libpq calls: `poolHandOffs`
/// stays near zero while phases run on `PostgresExecutor` (a test holds it there).
struct PhaseConnectionUse: Sendable {
    var roundTrips = 0
    var poolHandOffs = 0

    /// The counts of `connection` (zero for none yet).
    static func of(_ connection: PostgresConnection?) -> PhaseConnectionUse {
        PhaseConnectionUse(roundTrips: connection?.roundTrips ?? 0, poolHandOffs: connection?.poolHandOffs ?? 0)
    }

    static func += (total: inout PhaseConnectionUse, more: PhaseConnectionUse) {
        total.roundTrips += more.roundTrips
        total.poolHandOffs += more.poolHandOffs
    }

    static func - (after: PhaseConnectionUse, before: PhaseConnectionUse) -> PhaseConnectionUse {
        PhaseConnectionUse(roundTrips: after.roundTrips - before.roundTrips, poolHandOffs: after.poolHandOffs - before.poolHandOffs)
    }
}
#endif
