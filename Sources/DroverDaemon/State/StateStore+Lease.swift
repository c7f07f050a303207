import DroverCore
import Foundation

/// The lease and the heartbeats of instances sharing a PostgreSQL state store. The
/// state database's clock (`now()`) decides every expiry, so the instances' own
/// clocks never have to agree.
extension StateStore {
    /// Takes the fleet's lease when it is free or expired, or renews it when this
    /// instance holds it; answers who holds it afterwards. Row locking makes two
    /// instances' attempts one after the other: only one can win an expired lease.
    public func takeOrRenewLease(fleet: String, instance: InstanceIdentity, lease: Duration) async throws -> LeaderElection.Holder? {
        let taken = try await backend.query(
            """
            INSERT INTO lease AS l (fleet, holder, host, pid, term, since, renewed_at, expires_at)
            VALUES (?, ?, ?, ?, 1, now(), now(), now() + ? * interval '1 millisecond')
            ON CONFLICT (fleet) DO UPDATE SET
                term = CASE WHEN l.holder = excluded.holder THEN l.term ELSE l.term + 1 END,
                since = CASE WHEN l.holder = excluded.holder THEN l.since ELSE now() END,
                holder = excluded.holder, host = excluded.host, pid = excluded.pid,
                renewed_at = now(), expires_at = excluded.expires_at
             WHERE l.holder = excluded.holder OR l.expires_at < now()
            RETURNING \(Self.holderColumns)
            """, [fleet, instance.id, instance.host, String(instance.pid), String(lease.milliseconds)])
        if let row = taken.first { return Self.holder(row) }
        // Held by another. A separate statement: the attempt's snapshot predates a
        // racing instance's insert, which it waited for but cannot see.
        return try await backend.query("SELECT \(Self.holderColumns) FROM lease WHERE fleet = ?", [fleet]).first.flatMap(Self.holder)
    }

    private static let holderColumns = "holder, host, pid, term, extract(epoch FROM since)::text"

    /// Lets another instance take over at once (graceful shutdown of the leader).
    public func releaseLease(fleet: String, instance: InstanceIdentity) async throws {
        _ = try await backend.query("UPDATE lease SET expires_at = now() - interval '1 second' WHERE fleet = ? AND holder = ?", [fleet, instance.id])
    }

    /// Records that `instance` is alive and what it does; forgets instances silent for a day.
    public func heartbeat(_ instance: InstanceIdentity, role: String) async throws {
        try await backend.transaction([
            StateStatement(
                """
                INSERT INTO instances (id, host, pid, role, started_at, heartbeat_at) VALUES (?, ?, ?, ?, now(), now())
                ON CONFLICT (id) DO UPDATE SET role = excluded.role, heartbeat_at = now()
                """, [instance.id, instance.host, String(instance.pid), role]),
            StateStatement("DELETE FROM instances WHERE heartbeat_at < now() - interval '1 day'"),
        ])
    }

    /// Instances heard from in the last hour, oldest first.
    public func instances() async throws -> [InstanceHeartbeat] {
        let rows = try await backend.query(
            """
            SELECT id, host, pid, role, extract(epoch FROM started_at)::text, extract(epoch FROM heartbeat_at)::text FROM instances
             WHERE heartbeat_at > now() - interval '1 hour' ORDER BY started_at, id
            """, [])
        return rows.compactMap { row in
            guard let id = row[0], let host = row[1], let pid = row[2].flatMap({ Int32($0) }), let role = row[3],
                let started = row[4].flatMap(Double.init), let beat = row[5].flatMap(Double.init)
            else { return nil }
            return InstanceHeartbeat(
                id: id, host: host, pid: pid, role: role,
                startedAt: Date(timeIntervalSince1970: started), heartbeatAt: Date(timeIntervalSince1970: beat))
        }
    }

    private static func holder(_ row: [String?]) -> LeaderElection.Holder? {
        guard let id = row[0], let host = row[1], let pid = row[2].flatMap({ Int32($0) }), let term = row[3].flatMap({ Int64($0) }),
            let since = row[4].flatMap(Double.init)
        else { return nil }
        return LeaderElection.Holder(instance: id, host: host, pid: pid, term: term, since: Date(timeIntervalSince1970: since))
    }
}

/// Who this droverd is among those sharing a state store.
public struct InstanceIdentity: Sendable, Hashable {
    public var id: String
    public var host: String
    public var pid: Int32

    public init(id: String, host: String, pid: Int32) {
        self.id = id
        self.host = host
        self.pid = pid
    }

    /// `host:pid:random`: unique even when a pid is reused after a restart.
    public static func current() -> InstanceIdentity {
        let host = ProcessInfo.processInfo.hostName
        let pid = ProcessInfo.processInfo.processIdentifier
        let random = UUID().uuidString.prefix(8).lowercased()
        return InstanceIdentity(id: "\(host):\(pid):\(random)", host: host, pid: pid)
    }
}

public struct InstanceHeartbeat: Sendable, Hashable {
    public var id: String
    public var host: String
    public var pid: Int32
    /// `leader`, `follower` or `stopped`.
    public var role: String
    public var startedAt: Date
    public var heartbeatAt: Date
}
