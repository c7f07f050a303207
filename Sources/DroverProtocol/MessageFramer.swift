/// Splits a varlink byte stream into messages: each is JSON ended by a NUL byte
/// (varlink.org). A message longer than `maximumLength` without its NUL is an
/// error, and the buffer never grows past that bound, so a client that sends
/// megabytes without a terminator costs at most `maximumLength` of memory.
public struct MessageFramer: Sendable {
    public static let defaultMaximumLength = 1 << 20  // 1 MiB, docs/varlink.md

    public enum Failure: Error, Sendable, Equatable {
        case messageTooLong(limit: Int)
    }

    public let maximumLength: Int
    private var buffer: [UInt8] = []

    public init(maximumLength: Int = MessageFramer.defaultMaximumLength) {
        self.maximumLength = maximumLength
    }

    /// Bytes not yet ended by a NUL.
    public var pending: Int { buffer.count }

    /// Adds received bytes and returns every complete message (without its NUL).
    public mutating func append<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(Failure) -> [[UInt8]] {
        var messages: [[UInt8]] = []
        var rest = bytes[...]
        while let end = rest.firstIndex(of: 0) {
            try take(rest[..<end])
            messages.append(buffer)
            buffer.removeAll(keepingCapacity: true)
            rest = rest[rest.index(after: end)...]
        }
        try take(rest)
        return messages
    }

    private mutating func take(_ part: some Collection<UInt8>) throws(Failure) {
        guard buffer.count + part.count <= maximumLength else {
            buffer.removeAll()
            throw .messageTooLong(limit: maximumLength)
        }
        buffer.append(contentsOf: part)
    }

    /// A message ready to send: its JSON and the terminating NUL.
    public static func frame(_ json: [UInt8]) -> [UInt8] { json + [0] }
}
