import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// droverd's wall clock, which tests can move (debug builds, `DROVER_TEST_HOOKS`;
/// a release build always runs on `Date()`): with `DROVER_TEST_CLOCK=FILE`, the
/// time is the ISO 8601 instant written in FILE plus the real time since it was
/// written, so a test jumps into a maintenance window, or past its end, by writing
/// the file again. Without the variable it is `Date()` and nothing else runs.
///
/// Only the fleet's wall clock moves (windows, soak, polls, history times);
/// timeouts, backoff and the watchdog keep the monotonic clock.
public final class TestClock: Sendable {
    private struct Setting {
        var stamp: timespec
        var base: Date
        var setAt: ContinuousClock.Instant
    }

    private let path: String
    private let setting = Mutex<Setting?>(nil)

    private init(path: String) { self.path = path }

    /// The clock droverd runs on: `Date()`, or the file's when the variable names one.
    public static func fromEnvironment() -> @Sendable () -> Date {
        #if DROVER_TEST_HOOKS
        guard let path = ProcessInfo.processInfo.environment["DROVER_TEST_CLOCK"], !path.isEmpty else {
            return { Date() }
        }
        let clock = TestClock(path: path)
        return { clock.now() }
        #else
        return { Date() }
        #endif
    }

    func now() -> Date {
        var info = stat()
        guard stat(path, &info) == 0 else { return Date() }
        return setting.withLock { setting in
            if setting == nil || setting!.stamp.tv_sec != info.st_mtim.tv_sec || setting!.stamp.tv_nsec != info.st_mtim.tv_nsec {
                // The file changed (or is read for the first time): the new instant
                // counts from now. An unreadable time falls back to the real clock.
                guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                    let base = try? Date(text.trimmingCharacters(in: .whitespacesAndNewlines), strategy: .iso8601)
                else { return Date() }
                setting = Setting(stamp: info.st_mtim, base: base, setAt: .now)
            }
            let elapsed = ContinuousClock.now - setting!.setAt
            return setting!.base.addingTimeInterval(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }
}
