import CProcess
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A helper program (the project's `alembic`, a hook) run to completion with its output
/// captured. Waiting and reading happen on a thread of their own, never on the
/// cooperative pool. Cancelling the awaiting task sends SIGTERM to the program's
/// process group, and SIGKILL after `killAfter`.
///
/// All raw process calls of drover's runner are in this file.
public struct ChildProcess: Sendable {
    public struct Result: Sendable {
        /// The exit code, or 128 + the signal that ended it.
        public var status: Int32
        public var signalled: Bool
        /// stdout and stderr interleaved as written; the tail when it ran long.
        public var output: String
    }

    public struct SpawnError: Error, CustomStringConvertible {
        var program: String
        var code: Int32
        public var description: String { "cannot start \(program): \(String(cString: strerror(code)))" }
    }

    /// At most this much output is kept (the end of it).
    static let outputLimit = 256 * 1024

    var arguments: [String]
    var environment: [String: String]
    var directory: String
    var killAfter: Duration = .seconds(5)
    /// What the program reads on stdin (from a file droverd writes and removes at
    /// once: a pipe could block droverd, or kill it with SIGPIPE); /dev/null when `nil`.
    var input: [UInt8]?

    public init(arguments: [String], environment: [String: String], directory: String, killAfter: Duration = .seconds(5), input: [UInt8]? = nil) {
        self.arguments = arguments
        self.environment = environment
        self.directory = directory
        self.killAfter = killAfter
        self.input = input
    }

    public func run() async throws -> Result {
        let pid = try spawnWithPipe()
        let exited = Mutex(false)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let thread = Thread {
                    let output = Self.drain(pid.output)
                    let (status, signalled) = Self.wait(pid.pid)
                    exited.withLock { $0 = true }
                    continuation.resume(returning: Result(status: status, signalled: signalled, output: output))
                }
                thread.name = "drover child \(pid.pid)"
                thread.start()
            }
        } onCancel: {
            guard !exited.withLock({ $0 }) else { return }
            kill(-pid.pid, SIGTERM)
            let grace = killAfter
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18)
                if !exited.withLock({ $0 }) { kill(-pid.pid, SIGKILL) }
            }
        }
    }

    /// posix_spawnp with stdin from /dev/null, stdout and stderr into one pipe, a
    /// process group of its own (so a wrapper like `poetry run` is stopped with its
    /// children), default signal dispositions and an empty signal mask (the daemon
    /// ignores or blocks some signals, and exec would pass that on).
    private func spawnWithPipe() throws -> (pid: pid_t, output: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe2(&fds, O_CLOEXEC) == 0 else { throw SpawnError(program: arguments[0], code: errno) }
        defer { close(fds[1]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let inputFile = try input.map(Self.writeInput)
        defer { if let inputFile { unlink(inputFile) } }
        posix_spawn_file_actions_addopen(&actions, 0, inputFile ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addchdir_np(&actions, directory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let code = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard code == 0 else {
            close(fds[0])
            throw SpawnError(program: arguments[0], code: code)
        }
        return (pid, fds[0])
    }

    /// A private file holding `bytes`, for the child's stdin.
    private static func writeInput(_ bytes: [UInt8]) throws -> String {
        var template = Array("/tmp/drover-input-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SpawnError(program: "mkstemp", code: errno) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw SpawnError(program: "writing a hook's input", code: errno) }
            written += count
        }
        return String(cString: template)
    }

    /// Reads until EOF, keeping the last `outputLimit` bytes.
    private static func drain(_ fd: Int32) -> String {
        defer { close(fd) }
        var kept: [UInt8] = []
        var dropped = 0
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            kept.append(contentsOf: buffer[..<count])
            if kept.count > outputLimit {
                let excess = kept.count - outputLimit
                kept.removeFirst(excess)
                dropped += excess
            }
        }
        let text = String(decoding: kept, as: UTF8.self)
        return dropped > 0 ? "[\(dropped) bytes of earlier output omitted]\n" + text : text
    }

    private static func wait(_ pid: pid_t) -> (Int32, Bool) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        if signal == 0 { return ((status >> 8) & 0xff, false) }
        return (128 + signal, true)
    }
}
