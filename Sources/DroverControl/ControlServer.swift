import CSocket
import DroverDaemon
import DroverProtocol
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The control socket (docs/varlink.md): varlink over a Unix stream socket, on the
/// manifest's path or on the socket systemd passed. Each connection is served by
/// its own task; peers are identified by SO_PEERCRED and held to the limits.
public struct ControlServer: Service {
    public struct Limits: Sendable {
        /// Bytes of one message without its NUL (docs/varlink.md: 1 MiB).
        public var maximumMessage = MessageFramer.defaultMaximumLength
        /// A connection with no call in progress is closed after this long.
        public var idleTimeout: Duration = .seconds(60)
        public var maximumConnections = 256
        public var maximumConnectionsPerUser = 32

        public init() {}
    }

    public enum Source: Sendable, Equatable {
        /// Bind a new socket file here (stale ones from dead daemons are replaced).
        case path(String)
        /// A listening socket systemd passed; never unlinked or rebound.
        case inherited(Int32)
    }

    let fleet: Fleet
    let source: Source
    let limits: Limits
    let logger: Logger
    let router: CallRouter
    let connections: OpenConnections
    private let server: NIOAsyncChannel<Accepted, Never>
    /// Where it listens, for the log: the path, or the fd from systemd.
    public let address: String

    /// Binds (or adopts) the socket, so that a daemon that cannot be reached never
    /// starts moving databases.
    public init(fleet: Fleet, source: Source, limits: Limits = Limits(), version: String, logger: Logger) async throws {
        self.fleet = fleet
        self.source = source
        self.limits = limits
        self.logger = logger
        self.router = CallRouter(fleet: fleet, version: version)
        self.connections = OpenConnections(ConnectionLimits(total: limits.maximumConnections, perUser: limits.maximumConnectionsPerUser))
        let operatorsGroup = await fleet.definition.manifest.fleet.operatorsGroup
        self.server = try await Self.bind(source, group: await Self.lookUp { Syscalls.groupID(named: operatorsGroup) }, logger: logger)
        switch source {
        case .path(let path): address = path
        case .inherited(let descriptor): address = "fd \(descriptor) from systemd"
        }
    }

    /// systemd's socket when it passed one, else the manifest's path.
    public static func source(path: String) throws(ControlError) -> Source {
        try Syscalls.inheritedSocket().map(Source.inherited) ?? .path(path)
    }

    public func run() async throws {
        logger.notice("control socket listening on \(address)")
        let serverChannel = server.channel
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await (connection, credentials) in inbound {
                        group.addTask { await serve(connection, credentials) }
                    }
                }
                // The listener is closed: end the connections still open (watchers).
                group.cancelAll()
            }
        } onGracefulShutdown: {
            serverChannel.close(promise: nil)
        }
        if case .path(let path) = source { try? Syscalls.removeFile(path) }
        logger.notice("control socket closed")
    }

    typealias Accepted = (NIOAsyncChannel<ByteBuffer, ByteBuffer>, drover_ucred)

    private static func bind(_ source: Source, group: gid_t?, logger: Logger) async throws -> NIOAsyncChannel<Accepted, Never> {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Accepted> = { channel in
            Syscalls.peerCredentials(of: channel).flatMapThrowing { credentials in
                (try NIOAsyncChannel(wrappingChannelSynchronously: channel), credentials)
            }
        }
        switch source {
        case .inherited(let descriptor):
            return try await bootstrap.bind(descriptor, childChannelInitializer: initializer)
        case .path(let path):
            try Syscalls.makeDirectory((path as NSString).deletingLastPathComponent, mode: 0o750, group: group)
            switch Syscalls.kind(of: path) {
            case .missing: break
            case .other: throw ControlError.socketFile(path: path, reason: "exists and is not a socket; not replacing it")
            case .socket:
                guard !Syscalls.socketIsLive(path) else { throw ControlError.inUse(path: path) }
                logger.notice("replacing the stale control socket of a daemon that is gone", metadata: ["path": "\(path)"])
                try Syscalls.removeFile(path)
            }
            let server = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
            try Syscalls.setMode(path, 0o660, group: group)
            return server
        }
    }

    private func serve(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, _ credentials: drover_ucred) async {
        let uid = credentials.uid
        switch connections.state.withLock({ $0.admit(uid: uid) }) {
        case .refused(let scope, let limit):
            logger.warning("control connection refused: \(scope) cap of \(limit) reached", metadata: ["uid": "\(uid)", "pid": "\(credentials.pid)"])
            try? await channel.executeThenClose { _, outbound in
                try await outbound.write(ByteBuffer(bytes: MessageFramer.frame(ErrorReply.tooManyConnections(scope: scope, limit: limit).encoded())))
            }
            return
        case .admitted:
            break
        }
        defer { connections.state.withLock { $0.release(uid: uid) } }
        let operatorsGroup = await fleet.definition.manifest.fleet.operatorsGroup
        let peer = await Self.identify(credentials)
        let role = Authorization(operatorsGroup: operatorsGroup, operatorsGroupID: await Self.lookUp { Syscalls.groupID(named: operatorsGroup) }).role(of: peer)
        let connection = ControlConnection(channel: channel, peer: peer, role: role, operatorsGroup: operatorsGroup, router: router, limits: limits)
        do {
            try await connection.run()
        } catch {
            logger.debug("control connection ended: \(error)", metadata: ["uid": "\(uid)", "pid": "\(credentials.pid)"])
        }
    }

    /// The peer's user name and groups. The user database may be remote (LDAP,
    /// sssd): it is asked on a thread of its own, never on the cooperative pool.
    private static func identify(_ credentials: drover_ucred) async -> PeerIdentity {
        await lookUp {
            let user = Syscalls.userName(of: credentials.uid)
            let groups = user.map { Syscalls.groups(ofUser: $0, primary: credentials.gid) } ?? [credentials.gid]
            return PeerIdentity(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid, user: user, groups: groups)
        }
    }

    private static func lookUp<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        // runIfActive only fails once the pool is shut down (process exit).
        (try? await NIOThreadPool.singleton.runIfActive(work)) ?? work()
    }
}

/// The limits, shared by the tasks of all connections.
final class OpenConnections: Sendable {
    let state: Mutex<ConnectionLimits>
    init(_ limits: ConnectionLimits) { state = Mutex(limits) }
}
