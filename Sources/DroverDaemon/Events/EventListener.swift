import DroverProtocol
import Foundation

/// One consumer of the fleet's live events (`droverctl watch`, the systemd service).
/// Its queue is bounded so that a consumer that reads slowly, or a client that stops
/// reading its socket, cannot grow droverd's memory; what does not fit is not lost
/// silently: the consumer's next event is a `dropped` event counting what it missed,
/// in the place where the gap is. A consumer that asked for some kinds only gets
/// those: the others are neither queued nor encoded for it (a rollout over 10,000
/// tenants is 20,000 `start` and `applied` events).
struct EventListener {
    static let capacity = 1000

    private let continuation: AsyncStream<FleetEvent>.Continuation
    /// The kinds this consumer asked for; `nil`: all.
    private let kinds: Set<String>?
    /// Events that did not fit since the last `dropped` event went out.
    private(set) var missed = 0

    /// A listener and the stream its consumer reads.
    static func make(capacity: Int = Self.capacity, kinds: Set<String>? = nil) -> (EventListener, AsyncStream<FleetEvent>) {
        // Oldest, not newest: the gap is then at the end of the queue, where the
        // `dropped` event can say so.
        let (stream, continuation) = AsyncStream<FleetEvent>.makeStream(bufferingPolicy: .bufferingOldest(capacity))
        return (EventListener(continuation: continuation, kinds: kinds), stream)
    }

    mutating func send(_ event: FleetEvent) {
        if let kinds, !kinds.contains(event.kind) { return }
        if missed > 0 {
            let notice = FleetEvent(
                at: event.at, database: nil, tier: nil, revision: nil, phase: nil, kind: "dropped",
                message: "\(missed) event\(missed == 1 ? "" : "s") dropped: this watcher read too slowly (status and history have the fleet's state)")
            guard case .enqueued = continuation.yield(notice) else {
                missed += 1
                return
            }
            missed = 0
        }
        if case .dropped = continuation.yield(event) { missed += 1 }
    }

    func onTermination(_ handler: @escaping @Sendable (AsyncStream<FleetEvent>.Continuation.Termination) -> Void) {
        continuation.onTermination = handler
    }
}
