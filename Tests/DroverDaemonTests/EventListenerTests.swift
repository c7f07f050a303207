import DroverProtocol
import Foundation
import Testing

@testable import DroverDaemon

@Suite("a watcher's bounded queue of events")
struct EventListenerTests {
    private func event(_ n: Int) -> FleetEvent {
        FleetEvent(at: Date(timeIntervalSince1970: Double(n)), database: "db\(n)", tier: nil, revision: nil, phase: nil, kind: "applied", message: "\(n)")
    }

    private func take(_ count: Int, from iterator: inout AsyncStream<FleetEvent>.Iterator) async -> [String] {
        var taken: [String] = []
        for _ in 0..<count {
            guard let next = await iterator.next() else { break }
            taken.append(next.kind == "dropped" ? "dropped: " + next.message.prefix(while: { $0 != " " }) : next.message)
        }
        return taken
    }

    @Test("a watcher that fell behind keeps the oldest events and is told how many it missed, where the gap is; a dropped notice that does not fit counts too")
    func droppedEventsAreCounted() async {
        var (listener, stream) = EventListener.make(capacity: 3)
        var iterator = stream.makeAsyncIterator()
        for n in 1...5 { listener.send(event(n)) }
        #expect(listener.missed == 2)
        #expect(await take(3, from: &iterator) == ["1", "2", "3"])

        // Room for two: the notice, then the next event.
        listener.send(event(6))
        #expect(listener.missed == 0)
        #expect(await take(2, from: &iterator) == ["dropped: 2", "6"])

        // Full again, and the notice itself does not fit: the event is missed too.
        for n in 7...9 { listener.send(event(n)) }
        listener.send(event(10))
        listener.send(event(11))
        #expect(listener.missed == 2)
        #expect(await take(3, from: &iterator) == ["7", "8", "9"])
        listener.send(event(12))
        #expect(await take(2, from: &iterator) == ["dropped: 2", "12"])
    }

    @Test("a watcher that asked for some kinds gets only those, takes no room with the others, and still hears what it missed")
    func kindsAreFiltered() async {
        var (listener, stream) = EventListener.make(capacity: 2, kinds: ["failed"])
        var iterator = stream.makeAsyncIterator()
        func event(_ n: Int, _ kind: String) -> FleetEvent {
            FleetEvent(at: Date(timeIntervalSince1970: Double(n)), database: "db\(n)", tier: nil, revision: nil, phase: nil, kind: kind, message: "\(n)")
        }
        for n in 1...50 { listener.send(event(n, n % 10 == 0 ? "failed" : "applied")) }
        #expect(listener.missed == 3)  // 10 and 20 fit; 30, 40 and 50 do not
        #expect(await take(2, from: &iterator) == ["10", "20"])
        listener.send(event(51, "applied"))
        listener.send(event(52, "failed"))
        #expect(await take(2, from: &iterator) == ["dropped: 3", "52"])
    }
}
