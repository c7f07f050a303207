import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One daemon per state file: an exclusive `flock` on `<state>.lock`, which holds
/// the owner's pid so that a second daemon can name it. The kernel drops the lock
/// when the process dies, so a crash never leaves a stale lock.
final class StateFileLock: Sendable {
    private let descriptor: Mutex<Int32?>

    init(statePath: String) throws(StateStoreError) {
        let path = statePath + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            let pid = count > 0 ? Int32(String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) : nil
            throw .inUse(path: statePath, pid: pid)
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = Mutex(fd)
    }

    deinit { release() }

    /// Unlocks and closes the file. Unlocked first: a child being spawned at this
    /// moment shares the descriptor until its exec, and closing alone would leave the
    /// lock held until then (a store reopened at once found "another droverd").
    func release() {
        descriptor.withLock { fd in
            if let fd {
                _ = flock(fd, LOCK_UN)
                close(fd)
            }
            fd = nil
        }
    }
}
