import DroverProtocol
import Foundation

/// The consumers of the fleet's live events (`droverctl watch`, the systemd
/// service), each with its own bounded queue (`EventListener`).
struct EventHub {
    private var listeners: [UUID: EventListener] = [:]

    /// A new consumer's id and stream; `kinds`: only events of these kinds (and `dropped`).
    mutating func subscribe(kinds: Set<String>?) -> (UUID, EventListener, AsyncStream<FleetEvent>) {
        let (listener, stream) = EventListener.make(kinds: kinds)
        let id = UUID()
        listeners[id] = listener
        return (id, listener, stream)
    }

    mutating func unsubscribe(_ id: UUID) { listeners[id] = nil }

    mutating func send(_ event: FleetEvent) {
        for id in listeners.keys { listeners[id]?.send(event) }
    }

    var count: Int { listeners.count }
}
