import Synchronization

/// A server message that is not an error (NOTICE, WARNING, INFO).
public struct Notice: Sendable, Equatable {
    public var severity: String
    public var message: String
}

/// Collects notices while libpq runs a statement on a pool thread.
final class NoticeSink: Sendable {
    private let notices = Mutex<[Notice]>([])

    func append(_ notice: Notice) {
        notices.withLock { $0.append(notice) }
    }

    func drain() -> [Notice] {
        notices.withLock { current in
            defer { current.removeAll() }
            return current
        }
    }
}
