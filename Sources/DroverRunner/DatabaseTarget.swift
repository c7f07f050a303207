import DroverCore
import DroverPostgres
import Foundation

/// Everything the runner needs to work on one database (or tenant schema).
public struct DatabaseTarget: Sendable {
    public var name: String
    public var connection: ConnectionConfiguration
    /// The tenant schema phases run in; `nil` for a whole database.
    public var schema: String?
    /// The fleet's tracking schema (`tracking_schema`): where `revisions` lives, shared
    /// by the schema tenants of a database (`TrackingLayout`).
    public var fleetTrackingSchema: String
    /// The fleet's tracking schema, or for a schema tenant its own
    /// `<tracking_schema>_<schema>`: the tenant's advisory-lock key, and where drover
    /// 0.4 and earlier kept its rows.
    public var trackingSchema: String
    public var settings: DatabaseSettings

    public init(
        name: String, connection: ConnectionConfiguration, schema: String? = nil, trackingSchema: String = "drover",
        settings: DatabaseSettings = DatabaseSettings()
    ) {
        self.name = name
        self.connection = connection
        self.schema = schema
        self.fleetTrackingSchema = trackingSchema
        self.trackingSchema = schema.map { Self.tenantTrackingSchema(trackingSchema, schema: $0) } ?? trackingSchema
        self.settings = settings
    }

    /// Builds the target for a manifest database, reading its password file.
    public init(_ spec: DatabaseSpec, fleet: FleetSettings) throws(RunnerError) {
        var password: Secret?
        if let path = spec.passwordFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .passwordFileUnreadable(database: spec.name, path: path)
            }
            password = Secret(passwordFileContents: String(decoding: data, as: UTF8.self))
        }
        let connectSeconds = Int((spec.settings.connectTimeout.milliseconds + 999) / 1000)
        self.init(
            name: spec.name,
            connection: ConnectionConfiguration(conninfo: spec.dsn, password: password, connectTimeoutSeconds: connectSeconds),
            schema: spec.schema,
            trackingSchema: fleet.trackingSchema,
            settings: spec.settings
        )
    }

    /// Where Alembic keeps this database's revision: the configured table, in the
    /// configured schema, else the tenant schema, else `public`.
    public var alembicVersionTable: AlembicVersionTable {
        AlembicVersionTable(schema: settings.alembicVersionTableSchema ?? schema ?? "public", table: settings.alembicVersionTable)
    }

    /// `drover_acme` for tracking schema `drover` and tenant schema `acme`.
    public static func tenantTrackingSchema(_ trackingSchema: String, schema: String) -> String {
        String("\(trackingSchema)_\(schema)".prefix(63))
    }

    /// The advisory-lock key of this target (docs/tracking.md): a fixed class id for drover
    /// and a hash of the tracking schema, so every daemon and every tool that knows
    /// the rule agrees on it. Visible in `pg_locks` as (classid, objid).
    public var advisoryLockKey: (classID: Int32, objectID: Int32) {
        (Self.advisoryLockClass, Int32(truncatingIfNeeded: StableHash.fnv1a(trackingSchema)))
    }

    /// 'drov' in ASCII.
    public static let advisoryLockClass: Int32 = 0x6472_6F76
}
