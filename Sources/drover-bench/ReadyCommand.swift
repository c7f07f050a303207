import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Stands in for systemd's notification socket: binds a datagram socket, prints
/// the moment (ns since the epoch) READY=1 arrives.
struct ReadyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ready",
        abstract: "Listen on a notification socket (NOTIFY_SOCKET) and print when READY=1 arrives."
    )

    @Option(help: ArgumentHelp("The socket to create.", valueName: "path"))
    var socket: String

    func run() throws {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw ValidationError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socket.utf8CString)
        guard path.count <= MemoryLayout.size(ofValue: address.sun_path) else { throw ValidationError("socket path too long: \(socket)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = UInt8(bitPattern: byte) }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw ValidationError("bind \(socket): \(String(cString: strerror(errno)))") }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw ValidationError("recv: \(String(cString: strerror(errno)))") }
            if String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n").contains("READY=1") { break }
        }
        print(UInt64(Date().timeIntervalSince1970 * 1e9))
    }
}
