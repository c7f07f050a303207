import DroverTestSupport
import Foundation
import Testing

@testable import DroverCore

/// The reference in docs/ is checked against the code it describes, so that a new
/// manifest key, command, option, method or lint rule cannot ship undocumented.
@Suite("Documentation covers what the code accepts")
struct DocumentationTests {
    private static let root = AlembicProjectFixture.repositoryRoot

    private static func read(_ path: String) throws -> String {
        try String(contentsOfFile: root + "/" + path, encoding: .utf8)
    }

    @Test("every manifest key has an entry in docs/manifest.md")
    func manifestKeys() throws {
        let doc = try Self.read("docs/manifest.md")
        let lists = [
            ManifestKeys.top, ManifestKeys.fleet, ManifestKeys.fleetLint, ManifestKeys.fleetAlembic, ManifestKeys.settings, ManifestKeys.database,
            ManifestKeys.databaseAlembic, ManifestKeys.retry, ManifestKeys.throttle, ManifestKeys.window, ManifestKeys.wave, ManifestKeys.select,
            ManifestKeys.discover, ManifestKeys.releaseGate,
        ]
        let missing = Set(lists.joined()).filter { !doc.contains("`\($0)`") }
        #expect(missing.isEmpty, "undocumented manifest keys: \(missing.sorted())")
    }

    @Test("every lint rule has an entry in docs/lint-rules.md")
    func lintRules() throws {
        let doc = try Self.read("docs/lint-rules.md")
        let missing = LintRule.allCases.map(\.rawValue).filter { !doc.contains("`\($0)`") }
        #expect(missing.isEmpty, "undocumented lint rules: \(missing)")
    }

    @Test("docs/cli.md holds every droverctl command's --help as the built droverctl prints it (scripts/cli-reference rewrites it)")
    func commands() async throws {
        let droverctl = try Subprocess.builtProduct("droverctl")
        let doc = try Self.read("docs/cli.md")
        let dump = try await Subprocess.run([droverctl, "--experimental-dump-help"])
        let tool = try JSONSerialization.jsonObject(with: Data(dump.output.utf8)) as? [String: Any]
        let subcommands = (tool?["command"] as? [String: Any])?["subcommands"] as? [[String: Any]] ?? []
        let shown = subcommands.filter { ($0["shouldDisplay"] as? Bool) ?? true }.compactMap { $0["commandName"] as? String }.filter { $0 != "help" }
        #expect(shown.count >= 20, "\(shown)")
        for command in shown {
            let help = try await Subprocess.run([droverctl, command, "--help"])
            #expect(
                doc.contains("### droverctl \(command)\n\n```text\n\(help.output)```\n"),
                "docs/cli.md lacks or has an old --help of 'droverctl \(command)': run scripts/cli-reference")
        }
        for code in ["| 0 |", "| 1 |", "| 2 |", "| 3 |"] { #expect(doc.contains(code), "exit code \(code) in docs/cli.md") }
    }

    @Test("docs/varlink.md holds the varlink interface exactly as droverd declares it")
    func varlinkInterface() throws {
        let idl = try Self.read("Sources/DroverProtocol/io.drover.Fleet.varlink")
        #expect(try Self.read("docs/varlink.md").contains("```varlink\n\(idl)```"), "copy the interface into docs/varlink.md")
    }

    @Test("nothing in the repository's docs, scripts or examples points outside it, and every relative link resolves")
    func selfContained() throws {
        let files = try Subprocess.run(["git", "-C", Self.root, "ls-files"]).output.split(separator: "\n").map(String.init)
        #expect(files.count > 50)
        // Spelt apart so that this file does not match itself.
        let outside = ["../" + "shared", "SPEC" + " §"]
        for file in files {
            guard let text = try? Self.read(file) else { continue }
            for needle in outside where text.contains(needle) {
                Issue.record("\(file) refers to \(needle), which is not in the repository")
            }
        }
        for page in files where page.hasSuffix(".md") {
            let text = try Self.read(page)
            let directory = (page as NSString).deletingLastPathComponent
            for match in text.matches(of: #/\]\(([^)#:\s]+)(#[^)]*)?\)/#) {
                let target = String(match.output.1)
                let path = directory.isEmpty ? target : directory + "/" + target
                #expect(FileManager.default.fileExists(atPath: Self.root + "/" + path), "\(page) links to \(target), which does not exist")
            }
        }
    }
}
