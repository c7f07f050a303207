import DroverCore
import DroverPostgres
import Foundation

/// A connection a phase finished with, kept for the next phase on the same server
/// and database: a database's phases follow each other, and schema tenants of one
/// database take turns on a few connections instead of connecting once per phase.
/// Each phase resets the session (`RunnerSession.prepare`), so nothing carries over.
struct IdleConnection: Sendable {
    let connection: PostgresConnection
    let since: ContinuousClock.Instant
}

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

extension Fleet {
    /// Connections unused for longer than this are closed.
    static let idleConnectionLifetime: Duration = .seconds(2)

    /// The server, database and credentials a connection was made with.
    static func connectionKey(_ spec: DatabaseSpec) -> String {
        spec.dsn + "\u{1}" + (spec.passwordFile ?? "")
    }

    func takeIdleConnection(for spec: DatabaseSpec) -> PostgresConnection? {
        let key = Self.connectionKey(spec)
        while let idle = idleConnections[key]?.popLast() {
            if !idle.connection.isBroken { return idle.connection }
            Task { await idle.connection.close() }
        }
        return nil
    }

    func keepIdleConnection(_ connection: PostgresConnection, for spec: DatabaseSpec) {
        idleConnections[Self.connectionKey(spec), default: []].append(IdleConnection(connection: connection, since: .now))
    }

    func closeIdleConnections(olderThan age: Duration) async {
        let now = ContinuousClock.now
        for (key, connections) in idleConnections {
            let (old, fresh) = (connections.filter { now - $0.since >= age }, connections.filter { now - $0.since < age })
            idleConnections[key] = fresh.isEmpty ? nil : fresh
            for idle in old { await idle.connection.close() }
        }
    }
}
