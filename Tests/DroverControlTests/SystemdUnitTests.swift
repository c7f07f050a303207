import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let unitDirectory =
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/systemd"

/// The units as installed, but with ExecStart pointing at the droverd just built
/// (verify checks that the binary exists).
private func installedCopy() async throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-units-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let service = try String(contentsOfFile: unitDirectory + "/droverd.service", encoding: .utf8)
        .replacingOccurrences(of: "/usr/local/bin/droverd", with: try Subprocess.builtProduct("droverd"))
    try service.write(toFile: directory + "/droverd.service", atomically: true, encoding: .utf8)
    try FileManager.default.copyItem(atPath: unitDirectory + "/droverd.socket", toPath: directory + "/droverd.socket")
    return directory
}

@Suite("the systemd units")
struct SystemdUnitTests {
    @Test("systemd-analyze verify is clean and the service's exposure is at most 2.5")
    func verifyAndSecurity() async throws {
        let directory = try await installedCopy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let verify = try await Subprocess.run(["systemd-analyze", "verify", directory + "/droverd.service", directory + "/droverd.socket"])
        #expect(verify.status == 0 && verify.output.isEmpty && verify.errors.isEmpty, "\(verify.output)\(verify.errors)")

        let security = try await Subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", directory + "/droverd.service"])
        let line = try #require(security.output.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(security.output)\(security.errors)")
        let figure = try #require(line.split(separator: " ").compactMap { Double($0) }.first)
        #expect(figure <= 2.5, "\(line)")

        let service = try String(contentsOfFile: unitDirectory + "/droverd.service", encoding: .utf8)
        for setting in [
            "Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=", "Restart=on-failure", "StateDirectory=drover",
            "RuntimeDirectory=drover", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n",
        ] {
            #expect(service.contains(setting), "droverd.service lacks \(setting)")
        }
        // Peer credentials must stay real uids: a user namespace would map every
        // operator to nobody.
        #expect(!service.contains("PrivateUsers=yes"))
    }

    @Test("sysusers creates the drover user and group")
    func sysusers() async throws {
        let result = try await Subprocess.run(["systemd-sysusers", "--dry-run", unitDirectory + "/drover.sysusers"])
        #expect(result.status == 0, "\(result.errors)")
        if getgrnam("drover") == nil {
            #expect((result.output + result.errors).contains("Creating group 'drover'"), "\(result.output)\(result.errors)")
        }
        if getpwnam("drover") == nil {
            #expect((result.output + result.errors).contains("Creating user 'drover'"), "\(result.output)\(result.errors)")
        }
    }
}
