import CSystemd
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// sd_notify(3) messages to the service manager. Without `NOTIFY_SOCKET` (not
/// under systemd) every call does nothing.
public enum Notify {
    /// Whether a service manager listens (`NOTIFY_SOCKET` is set).
    public static var isEnabled: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    public static func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public static func status(_ text: String) { send("STATUS=\(text)") }
    /// Before a reload; systemd 252 has no Type=notify-reload, but honours this
    /// with ExecReload (and a later systemd needs MONOTONIC_USEC with it).
    public static func reloading() { send("RELOADING=1\nMONOTONIC_USEC=\(monotonicMicroseconds())") }
    public static func stopping(extendBy: Duration) {
        send("STOPPING=1\nEXTEND_TIMEOUT_USEC=\(extendBy.components.seconds * 1_000_000)")
    }
    public static func watchdog() { send("WATCHDOG=1") }

    /// The watchdog interval systemd expects pings within (WatchdogSec=), if any.
    public static func watchdogInterval() -> Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    private static func send(_ state: String) {
        _ = sd_notify(0, state.replacingOccurrences(of: "\u{0}", with: ""))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
