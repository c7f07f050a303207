/// Top-level manifest key `release_when` (docs/manifest.md), per tier: drover releases the
/// tier's target by itself once every client session of the application names it
/// (or a later revision), on every database of the tier, for `settle`.
public struct ReleaseGate: Sendable, Hashable {
    /// The application's `application_name`, `{revision}` where it names its revision
    /// ("slidefactory/{revision}").
    public var clients: String
    public var settle: Duration

    public init(clients: String, settle: Duration) {
        self.clients = clients
        self.settle = settle
    }

    /// The revision `applicationName` announces; `nil` for a session that is not the
    /// application's.
    public func announcedRevision(_ applicationName: String) -> String? {
        let parts = clients.components(separatedBy: "{revision}")
        guard parts.count == 2, applicationName.count > parts[0].count + parts[1].count,
            applicationName.hasPrefix(parts[0]), applicationName.hasSuffix(parts[1])
        else { return nil }
        return String(applicationName.dropFirst(parts[0].count).dropLast(parts[1].count))
    }
}
