import Synchronization

/// Where the things the loop waits for (phases' ends) are left by the tasks that
/// produce them, on whatever thread they run, and taken by the loop once per round:
/// a phase's end costs no hop onto the fleet's actor of its own.
final class CompletionInbox<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])

    func deposit(_ item: Item) { items.withLock { $0.append(item) } }

    func takeAll() -> [Item] {
        items.withLock { items in
            defer { items = [] }
            return items
        }
    }
}
