import DroverTestSupport
import Foundation
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Python with PyPI's `varlink` package, in the virtualenv scripts/test makes
/// (made here when a developer runs `swift test` alone).
private func varlinkPython() async throws -> String {
    let python = repositoryRoot + "/.venv-test/bin/python"
    if (try? await Subprocess.run([python, "-c", "import varlink"]).status) != 0 {
        _ = try await Subprocess.run(["python3", "-m", "venv", repositoryRoot + "/.venv-test"])
        let install = try await Subprocess.run([repositoryRoot + "/.venv-test/bin/pip", "install", "--quiet", "--disable-pip-version-check", "varlink"])
        try #require(install.status == 0, "cannot install the Python varlink package: \(install.errors)")
    }
    return python
}

@Suite("a third-party varlink peer")
struct VarlinkPeerTests {
    @Test("Python's varlink client reads the interface description, calls GetInfo and Status, and gets named errors")
    func pythonClient() async throws {
        let python = try await varlinkPython()
        let fixture = try await FleetFixture.make(tenants: ["acme"])
        defer { fixture.remove() }
        let daemon = try await RunningDaemon.start(fixture)
        defer { daemon.kill() }
        try await daemon.waitFor("preview at r2") { $0.database("preview")?.expanded == "r2" }

        // client.open() fetches and parses the .varlink text: a description Python
        // cannot parse fails here.
        let script = """
            import sys, varlink
            with varlink.Client(address="unix:" + sys.argv[1]) as client:
                with client.open("org.varlink.service") as service:
                    info = service.GetInfo()
                    print("interfaces", ",".join(info["interfaces"]))
                    print("description", service.GetInterfaceDescription("io.drover.Fleet")["description"].splitlines()[3])
                with client.open("io.drover.Fleet") as fleet:
                    status = fleet.Status(tier="preview")
                    row = status["databases"][0]
                    print("status", row["name"], row["expanded"], row["state"], len(status["tiers"]))
                    try:
                        fleet.Promote("r9")
                    except varlink.VarlinkError as error:
                        print("error", error.error(), error.parameters()["revision"])
            """
        let result = try await Subprocess.run([python, "-c", script, daemon.socket])
        #expect(result.status == 0, "\(result.errors)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.contains("interfaces org.varlink.service,io.drover.Fleet"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("description ") }, "\(lines)")
        #expect(lines.contains("status preview r2 waiting-release 1"), "\(lines)")
        #expect(lines.contains("error io.drover.Fleet.UnknownRevision r9"), "\(lines)")
    }
}
