import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A call to send, with typed parameters.
public struct OutgoingCall<Parameters: Encodable & Sendable>: Encodable, Sendable {
    public var method: String
    public var parameters: Parameters
    public var more: Bool?
    public var oneway: Bool?

    public init(method: String, parameters: Parameters, more: Bool? = nil, oneway: Bool? = nil) {
        self.method = method
        self.parameters = parameters
        self.more = more
        self.oneway = oneway
    }
}

/// A blocking varlink client over a Unix stream socket, for droverctl and tests:
/// one call at a time, replies read until one without `continues`. Sendable so
/// that a test can move it to a thread of its own; it must be used by one caller
/// at a time.
public final class VarlinkClient: @unchecked Sendable {
    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// The socket could not be opened; `code` is the errno.
        case cannotConnect(path: String, code: Int32)
        /// The daemon closed the connection or sent something that is not a reply.
        case connectionLost(path: String, reason: String)

        public var description: String {
            switch self {
            case .cannotConnect(let path, let code): "cannot connect to \(path): \(String(cString: strerror(code)))"
            case .connectionLost(let path, let reason): "lost the connection to \(path): \(reason)"
            }
        }
    }

    public let path: String
    private let descriptor: Int32
    // Replies may be large (status of ten thousand databases); calls are bounded by the daemon.
    private var framer = MessageFramer(maximumLength: 256 << 20)
    private var received: [[UInt8]] = []

    /// `receiveTimeout` bounds each wait for a reply (`nil`: wait as long as the
    /// daemon takes; a revert may run for minutes).
    public init(path: String, receiveTimeout: Duration? = nil) throws(Failure) {
        self.path = path
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .cannotConnect(path: path, code: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            close(descriptor)
            throw .cannotConnect(path: path, code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            close(descriptor)
            throw .cannotConnect(path: path, code: code)
        }
        if let receiveTimeout {
            let (seconds, attoseconds) = receiveTimeout.components
            var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Sends one call; with `more`, read replies with `next()` until one does not continue.
    public func send<P: Encodable & Sendable>(_ method: String, _ parameters: P, more: Bool = false, oneway: Bool = false) throws {
        try write(
            MessageFramer.frame(
                try VarlinkCodec.encode(OutgoingCall(method: method, parameters: parameters, more: more ? true : nil, oneway: oneway ? true : nil))))
    }

    /// Sends bytes as they are (for tests of what the daemon does with bad input).
    public func write(_ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .connectionLost(path: path, reason: String(cString: strerror(errno)))
            }
            offset += written
        }
    }

    /// The next reply, waiting for it.
    public func next() throws(Failure) -> VarlinkReply {
        let message = try nextMessage()
        do {
            return try VarlinkCodec.decodeReply(message)
        } catch {
            throw .connectionLost(path: path, reason: "\(error)")
        }
    }

    /// The next reply's bytes (its JSON without the NUL), for decoding straight
    /// into a typed reply.
    public func nextMessage() throws(Failure) -> [UInt8] {
        while received.isEmpty {
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw .connectionLost(path: path, reason: count == 0 ? "droverd closed the connection" : String(cString: strerror(errno)))
            }
            do {
                received += try framer.append(chunk[..<count])
            } catch {
                throw .connectionLost(path: path, reason: "a reply longer than \(framer.maximumLength) bytes")
            }
        }
        return received.removeFirst()
    }

    /// One call, one reply.
    public func call<P: Encodable & Sendable>(_ method: String, _ parameters: P) throws -> VarlinkReply {
        try send(method, parameters)
        return try next()
    }
}
