import CSocket
import CSystemd
import DroverProtocol
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Every raw C call of the control plane in one place: peer credentials, the user
/// and group database, the socket file, and sockets inherited from systemd.
enum Syscalls {
    /// SO_PEERCRED of a connected Unix socket: the peer's pid, uid and gid as the
    /// kernel recorded them at connect time.
    static func peerCredentials(of channel: any Channel) -> EventLoopFuture<drover_ucred> {
        let level = SOL_SOCKET, name = SO_PEERCRED
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ControlError.noPeerCredentials)
        }
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(level), name: SocketOptionName(name))
    }

    /// The gid of a group name, or `nil` when the machine has no such group.
    static func groupID(named name: String) -> gid_t? {
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return group.gr_gid
    }

    /// The user name of a uid, when it has one.
    static func userName(of uid: uid_t) -> String? {
        var user = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwuid_r(uid, &user, &buffer, buffer.count, &result) == 0, result != nil, let name = user.pw_name else { return nil }
        return String(cString: name)
    }

    /// Every group of a user (its supplementary groups and `primary`).
    static func groups(ofUser name: String, primary: gid_t) -> [gid_t] {
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, primary, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, primary, &groups, &count) >= 0 else { return [primary] }
        }
        return Array(groups.prefix(Int(count)))
    }

    enum PathKind { case missing, socket, other }

    static func kind(of path: String) -> PathKind {
        var status = stat()
        guard lstat(path, &status) == 0 else { return .missing }
        return (status.st_mode & S_IFMT) == S_IFSOCK ? .socket : .other
    }

    /// Whether a process accepts connections on the socket file at `path`.
    static func socketIsLive(_ path: String) -> Bool {
        (try? VarlinkClient(path: path)) != nil
    }

    static func removeFile(_ path: String) throws(ControlError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .socketFile(path: path, reason: "cannot remove the stale socket: \(errorText())") }
    }

    /// Creates `path` and missing parents with `mode`, given to `group` when set.
    static func makeDirectory(_ path: String, mode: mode_t, group: gid_t?) throws(ControlError) {
        guard kind(of: path) == .missing else { return }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectory(parent, mode: mode, group: group) }
        guard mkdir(path, mode) == 0 || errno == EEXIST else { throw .socketFile(path: path, reason: "cannot create the directory: \(errorText())") }
        // mkdir's mode passes through the umask; the directory gets exactly `mode`.
        _ = chmod(path, mode)
        if let group { _ = chown(path, uid_t.max, group) }
    }

    static func setMode(_ path: String, _ mode: mode_t, group: gid_t?) throws(ControlError) {
        guard chmod(path, mode) == 0 else { throw .socketFile(path: path, reason: "cannot set its mode: \(errorText())") }
        if let group, chown(path, uid_t.max, group) != 0 {
            throw .socketFile(path: path, reason: "cannot give it to group \(group): \(errorText())")
        }
    }

    /// The listening Unix socket systemd passed (LISTEN_FDS/LISTEN_PID), if any.
    /// The environment variables are removed so that children do not inherit them.
    static func inheritedSocket() throws(ControlError) -> Int32? {
        let count = sd_listen_fds(1)
        guard count > 0 else { return nil }
        guard count == 1 else { throw .activation("systemd passed \(count) sockets; droverd.socket should have one ListenStream=") }
        let descriptor = SD_LISTEN_FDS_START
        guard sd_is_socket_unix(descriptor, SOCK_STREAM_VALUE, 1, nil, 0) > 0 else {
            throw .activation("the socket systemd passed is not a listening Unix stream socket")
        }
        return descriptor
    }

    private static let SOCK_STREAM_VALUE = Int32(SOCK_STREAM.rawValue)

    static func errorText() -> String { String(cString: strerror(errno)) }
}

// Three integers, copied by value.
extension drover_ucred: @retroactive @unchecked Sendable {}
