import CSystemd
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// swift-log to the systemd journal with structured fields: `MESSAGE`, `PRIORITY`,
/// and every metadata key as a field of its own (`db` → `DROVER_DB`), so that
/// `journalctl DROVER_DB=production` finds one database's lines.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = JournalFields.encode(level: event.level, message: "\(event.message)", metadata: merged, label: label)
        let buffers = fields.map { field -> (pointer: UnsafeMutablePointer<CChar>?, length: Int) in
            let copy = strdup(field)
            return (copy, copy.map { strlen($0) } ?? 0)
        }
        defer { for buffer in buffers { free(buffer.pointer) } }
        var vectors = buffers.map { iovec(iov_base: UnsafeMutableRawPointer($0.pointer), iov_len: $0.length) }
        if sd_journal_sendv(&vectors, Int32(vectors.count)) < 0 {
            // The journal went away (journald restarting): the line still goes somewhere.
            FileHandle.standardError.write(Data("\(event.level) \(event.message)\n".utf8))
        }
    }

    /// Whether stderr is connected to the journal: `JOURNAL_STREAM` names its
    /// device and inode (systemd.exec(5)); a redirected stderr is not.
    public static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return stream == "\(status.st_dev):\(status.st_ino)"
    }
}

/// The journal fields of one log line (pure, for tests).
public enum JournalFields {
    public static func encode(level: Logger.Level, message: String, metadata: Logger.Metadata, label: String) -> [String] {
        var fields = ["MESSAGE=\(message)", "PRIORITY=\(priority(level))", "SYSLOG_IDENTIFIER=droverd", "DROVER_LOGGER=\(label)"]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            fields.append("\(fieldName(key))=\(value)")
        }
        return fields
    }

    /// syslog priorities: journald maps them to colours and `journalctl -p`.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Journal field names are upper-case letters, digits and underscores, do not
    /// start with an underscore or a digit, and are at most 64 bytes.
    public static func fieldName(_ key: String) -> String {
        let cleaned = String(
            key.uppercased().unicodeScalars.map { scalar -> Character in
                ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) ? Character(scalar) : "_"
            })
        return String(("DROVER_" + cleaned).prefix(64))
    }
}
