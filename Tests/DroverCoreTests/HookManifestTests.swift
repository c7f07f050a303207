import DroverCore
import Testing

@Suite("hooks in the manifest")
struct HookManifestTests {
    private func load(_ hooks: String) -> (Manifest?, [String]) {
        let yaml = """
            fleet: {name: t, migrations: m}
            windows: {always: {always: true}}
            databases:
              - {name: a, tier: preview, dsn: "dbname=a", window: always}
            hooks:
            \(hooks)
            """
        let (manifest, diagnostics) = ManifestLoader(environment: [:]).load(files: [("/f/a.yaml", yaml)])
        return (manifest, diagnostics.errors.map(\.description))
    }

    @Test("events as a comma list or a YAML list; tier and phase narrow them; the timeout defaults to 5 min")
    func parses() {
        let (manifest, errors) = load(
            """
              - {on: "before-phase,after-phase", tier: preview, phase: contract, run: [/bin/backup, --quick], timeout: 30min}
              - {on: [halt, failed], run: [/bin/chat]}
            """)
        #expect(errors.isEmpty, "\(errors)")
        let hooks = manifest?.hooks ?? []
        #expect(
            hooks.first?.events == [.beforePhase, .afterPhase] && hooks.first?.phase == .contract && hooks.first?.timeout == .seconds(1800)
                && hooks.first?.run == ["/bin/backup", "--quick"])
        #expect(hooks.last?.events == [.halt, .failed] && hooks.last?.timeout == Hook.defaultTimeout)
        #expect(hooks.first?.runs(on: .beforePhase, tier: "preview", phase: .contract) == true)
        #expect(hooks.first?.runs(on: .beforePhase, tier: "preview", phase: .expand) == false)
        #expect(hooks.first?.runs(on: .beforePhase, tier: "production", phase: .contract) == false)
        #expect(hooks.last?.runs(on: .halt, tier: "tenants", phase: nil) == true)
    }

    @Test("an unknown event, a missing run, an unknown tier and an unknown key are errors with file and line")
    func errors() {
        #expect(
            load("  - {on: before-contract, run: [/bin/x]}").1.contains { $0.hasPrefix("/f/a.yaml:6:") && $0.contains("unknown hook event 'before-contract'") })
        #expect(load("  - {on: halt}").1.contains { $0.contains("a hook needs 'run'") })
        #expect(load("  - {on: halt, tier: staging, run: [/bin/x]}").1.contains { $0.contains("staging") })
        #expect(load("  - {on: halt, run: [/bin/x], every: 5s}").1.contains { $0.contains("every") })
    }
}
