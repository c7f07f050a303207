import DroverProtocol
import Foundation
import NIOCore
import Synchronization

/// One client on the control socket: reads NUL-framed calls one after another and
/// answers each in order. A message over the size limit or bytes that are not JSON
/// get a `ProtocolError` and the connection is closed; a client that leaves a call
/// unfinished (or sends nothing) for the idle timeout is disconnected. Nothing a
/// client does here reaches other connections or the scheduler.
struct ControlConnection {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    let peer: PeerIdentity
    let role: Role
    let operatorsGroup: String
    let router: CallRouter
    let limits: ControlServer.Limits

    func run() async throws {
        let deadline = IdleDeadline(after: limits.idleTimeout)
        let underlying = channel.channel
        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await deadline.closeWhenIdle(underlying) }
                defer { group.cancelAll() }
                var framer = MessageFramer(maximumLength: limits.maximumMessage)
                for try await buffer in inbound {
                    let messages: [[UInt8]]
                    do {
                        messages = try framer.append(buffer.readableBytesView)
                    } catch {
                        try await outbound.write(
                            frame(ErrorReply.protocolError("a message longer than \(limits.maximumMessage) bytes; the connection is closed").encoded()))
                        return
                    }
                    for message in messages {
                        deadline.busy()
                        guard try await handle(message, outbound: outbound) else { return }
                        deadline.idle(after: limits.idleTimeout)
                    }
                }
            }
        }
    }

    /// Answers one message; `false` when the connection must end.
    private func handle(_ message: [UInt8], outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> Bool {
        let call: VarlinkCall
        do {
            call = try VarlinkCodec.decodeCall(message)
        } catch {
            try await outbound.write(frame(ErrorReply.protocolError("not a varlink call (JSON with a method); the connection is closed").encoded()))
            return false
        }
        switch await router.answer(call, from: peer, role: role, operatorsGroup: operatorsGroup) {
        case .reply(let bytes):
            if call.oneway != true { try await outbound.write(frame(bytes)) }
            return true
        case .stream(let events):
            // Until the client hangs up (the channel closes) or the server stops (this
            // task is cancelled, which ends the stream of events).
            let underlying = channel.channel
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try? await underlying.closeFuture.get() }
                group.addTask {
                    for await event in events {
                        if let bytes = CallRouter.streamed(event) { try await outbound.write(frame(bytes)) }
                    }
                }
                defer {
                    // closeFuture cannot be cancelled: closing completes it.
                    underlying.close(promise: nil)
                    group.cancelAll()
                }
                _ = try await group.next()
            }
            return false
        }
    }

    /// The message and its NUL in one buffer, copied once: a status of 100,000
    /// databases is 30 MB.
    private func frame(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = channel.channel.allocator.buffer(capacity: bytes.count + 1)
        buffer.writeBytes(bytes)
        buffer.writeInteger(UInt8(0))
        return buffer
    }
}

/// When an idle connection is closed: `idleTimeout` after its last answered call
/// (or its opening), never while a call is being answered. A half-sent message does
/// not count as activity, so trickling bytes cannot keep a connection open.
final class IdleDeadline: Sendable {
    private let state: Mutex<ContinuousClock.Instant?>

    init(after timeout: Duration) { state = Mutex(.now + timeout) }

    func busy() { state.withLock { $0 = nil } }
    func idle(after timeout: Duration) { state.withLock { $0 = .now + timeout } }

    func closeWhenIdle(_ channel: any Channel) async throws {
        while true {
            let deadline = state.withLock { $0 }
            if let deadline, deadline <= .now {
                try? await channel.close()
                return
            }
            try await Task.sleep(until: deadline ?? .now + .seconds(1), clock: .continuous)
        }
    }
}
