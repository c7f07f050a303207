import Foundation

/// A password or other credential. It never prints itself, so it cannot end up in a
/// log line, a status answer or an error message by accident.
public struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The clear text; read only where it is handed to libpq.
    public let exposedValue: String

    public init(_ value: String) { self.exposedValue = value }

    /// A password file holds the password; one trailing newline is ignored (docs/cli.md).
    public init(passwordFileContents contents: String) {
        var value = contents
        if value.hasSuffix("\r\n") { value.removeLast(2) } else if value.hasSuffix("\n") { value.removeLast() }
        self.exposedValue = value
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }

    /// Removes the clear text from a message that came back from a server or library.
    public func scrub(_ message: String) -> String {
        guard !exposedValue.isEmpty else { return message }
        return message.replacingOccurrences(of: exposedValue, with: "<redacted>")
    }
}
