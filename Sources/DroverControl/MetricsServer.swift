import DroverCore
import DroverDaemon
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `GET /metrics` (docs/operations.md) over HTTP/1.1 on `fleet.metrics.listen`: a TCP
/// address or a Unix socket. swift-nio parses HTTP; a request it cannot parse gets
/// 400, another path 404, another method 405. Connections are capped and closed when
/// idle, like the control socket's, so a slow or flooding client stalls nothing.
public struct MetricsServer: Service {
    public struct Limits: Sendable {
        public var maximumConnections = 32
        /// A connection with no request in progress is closed after this long.
        public var idleTimeout: Duration = .seconds(10)
        /// A request body (none is expected) longer than this gets 413.
        public var maximumBody = 64 * 1024

        public init() {}
    }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    let fleet: Fleet
    let limits: Limits
    let logger: Logger
    let connections: OpenConnections
    private let server: NIOAsyncChannel<Connection, Never>
    private let socketPath: String?
    /// Where it listens, for the log and for tests: `host:port` (the port bound) or the path.
    public let address: String

    public init(fleet: Fleet, listen: MetricsSettings.Listen, limits: Limits = Limits(), logger: Logger) async throws {
        self.fleet = fleet
        self.limits = limits
        self.logger = logger
        connections = OpenConnections(ConnectionLimits(total: limits.maximumConnections, perUser: limits.maximumConnections))
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // A client that sends its request and closes its side still gets the answer.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
        switch listen {
        case .tcp(let host, let port):
            server = try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
            let bound = server.channel.localAddress?.port ?? port
            address = host.contains(":") ? "[\(host)]:\(bound)" : "\(host):\(bound)"
            socketPath = nil
        case .unix(let path):
            try? FileManager.default.removeItem(atPath: path)  // a stale socket of a droverd that is gone
            server = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
            address = path
            socketPath = path
        }
    }

    public func run() async throws {
        logger.notice("metrics on http://\(address)/metrics")
        let serverChannel = server.channel
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await serve(connection) }
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            serverChannel.close(promise: nil)
        }
        if let socketPath { try? FileManager.default.removeItem(atPath: socketPath) }
    }

    private func serve(_ connection: Connection) async {
        guard connections.state.withLock({ $0.admit(uid: 0) }) == .admitted else {
            // Answered as soon as its request is read (an answer before the request
            // is not HTTP); one that sends nothing is closed after 5 s.
            let deadline = IdleDeadline(after: .seconds(5))
            try? await connection.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await deadline.closeWhenIdle(connection.channel) }
                    defer { group.cancelAll() }
                    for try await part in inbound {
                        guard case .end = part else { continue }
                        try await Self.respond(outbound, status: .serviceUnavailable, body: "too many connections\n", keepAlive: false)
                        return
                    }
                }
            }
            return
        }
        defer { connections.state.withLock { $0.release(uid: 0) } }
        do {
            try await answer(connection)
        } catch {
            logger.debug("metrics connection ended: \(error)")
        }
    }

    /// Requests one after the other on a kept-alive connection.
    private func answer(_ connection: Connection) async throws {
        let deadline = IdleDeadline(after: limits.idleTimeout)
        let underlying = connection.channel
        try await connection.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await deadline.closeWhenIdle(underlying) }
                defer { group.cancelAll() }
                var request: HTTPRequestHead?
                var bodyBytes = 0
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        request = head
                        bodyBytes = 0
                    case .body(let bytes):
                        bodyBytes += bytes.readableBytes
                        if bodyBytes > limits.maximumBody {
                            try await Self.respond(outbound, status: .payloadTooLarge, body: "a request body is not expected\n", keepAlive: false)
                            return
                        }
                    case .end:
                        guard let head = request else { return }
                        deadline.busy()
                        let keepAlive = head.isKeepAlive
                        try await respond(to: head, outbound, keepAlive: keepAlive)
                        guard keepAlive else { return }
                        deadline.idle(after: limits.idleTimeout)
                        request = nil
                    }
                }
            }
        }
    }

    private func respond(to head: HTTPRequestHead, _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, keepAlive: Bool) async throws {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard path == "/metrics" else {
            return try await Self.respond(outbound, status: .notFound, body: "only /metrics is here\n", keepAlive: keepAlive)
        }
        guard head.method == .GET || head.method == .HEAD else {
            return try await Self.respond(outbound, status: .methodNotAllowed, body: "GET /metrics\n", keepAlive: keepAlive, allow: true)
        }
        let text = MetricFamily.render(await fleet.metricFamilies())
        try await Self.respond(
            outbound, status: .ok, body: text, keepAlive: keepAlive, contentType: "text/plain; version=0.0.4; charset=utf-8", withBody: head.method == .GET)
    }

    private static func respond(
        _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, status: HTTPResponseStatus, body: String, keepAlive: Bool,
        contentType: String = "text/plain; charset=utf-8", allow: Bool = false, withBody: Bool = true
    ) async throws {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", "\(body.utf8.count)")])
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        if allow { headers.add(name: "Allow", value: "GET, HEAD") }
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
        if withBody { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body)))) }
        try await outbound.write(.end(nil))
    }
}
