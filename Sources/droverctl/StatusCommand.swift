import ArgumentParser
import DroverProtocol

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show every database's revisions and state, and each tier's target.",
        discussion: """
            One row per database: its tier and wave, the revision expanded and contracted in it, its tier's target, its state (current, pending, expanding, backfilling, waiting-window, waiting-release, contracting, failed, tampered, unreachable, paused, locked, gone), the next opening of its window, and its last error. Below, one row per tier: its target, what is released, its state (idle, rolling, halted, paused, done), its current wave and the databases that failed in it.

            A backfill waiting for its throttle (replica lag, autovacuum, lock waiters) shows why in ERROR ("throttled: replica lag 14s > 10s"; --json: field throttled). A tier with release_when says under the table what its release waits for ("release_when waits: production: 3 sessions of 9f3a6c2e8b15"; --json: release_waiting_on). A database paused by droverctl cancel shows who cancelled it and why in ERROR. A database whose schema differs from the others at its revision shows how in ERROR ("drift: differs from preview at 3f2a9c1e: ..."; --json: drift; droverctl drift lists every difference).

            When droverd cannot write its own state store (disk full, read-only), a warning says so first: no phase starts until it can.

            With several droverd sharing a PostgreSQL state store, a last table shows each instance, which one leads and since when, and each one's last heartbeat; any instance answers status.

            --json prints {"databases": [...], "tiers": [...], "state_store_error": ..., "leader": ..., "instances": [...]} with revision ids in full (leader and instances only with a shared state store).
            """
    )

    @Option(help: ArgumentHelp("Only this tier.", valueName: "tier"))
    var tier: String?

    @Option(help: ArgumentHelp("Only this database.", valueName: "name"))
    var db: String?

    @Option(
        help: ArgumentHelp(
            "Only databases in this state (failed, locked, waiting-window, ...); droverd filters, so a large fleet's answer stays small.", valueName: "state"))
    var state: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let daemon = Daemon(options: global)
        if global.json { return try daemon.printRawParameters(.status, FleetParameters.Status(tier: tier, db: db, state: state), as: FleetStatus.self) }
        let status = try daemon.call(.status, FleetParameters.Status(tier: tier, db: db, state: state), as: FleetStatus.self)
        if let problem = status.state_store_error {
            Output.error("warning: \(problem); no phase starts until droverd can record it")
        }
        var databases = Table("DATABASE", "TIER", "WAVE", "EXPANDED", "CONTRACTED", "TARGET", "STATE", "NEXT WINDOW", "ERROR")
        for row in status.databases {
            databases.add([
                .init(text: row.name), .init(text: row.tier), .init(text: Format.text(row.wave)),
                .init(text: Format.revision(row.expanded)), .init(text: Format.revision(row.contracted)), .init(text: Format.revision(row.target)),
                .init(text: row.state.rawValue, colour: Format.colour(of: row.state)),
                .init(text: Format.time(row.next_window)),
                .init(
                    text: Format.text(
                        row.throttled.map { "throttled: \($0)" } ?? row.error?.split(separator: "\n").first.map(String.init)
                            ?? row.drift.map { "drift: \($0)" })),
            ])
        }
        Output.line(databases.render())
        Output.line()
        var tiers = Table("TIER", "TARGET", "RELEASED", "STATE", "WAVE", "FAILED")
        for row in status.tiers {
            tiers.add([
                .init(text: row.name), .init(text: Format.revision(row.target)), .init(text: Format.revision(row.released)),
                .init(text: row.state, colour: Format.colour(ofTierState: row.state)), .init(text: Format.text(row.wave)),
                .init(text: row.failed.isEmpty ? "-" : row.failed.joined(separator: ", "), colour: row.failed.isEmpty ? nil : .red),
            ])
        }
        Output.line(tiers.render())
        for waiting in status.tiers.compactMap(\.release_waiting_on) { Output.line("release_when waits: \(waiting)") }
        if let instances = status.instances {
            Output.line()
            var table = Table("INSTANCE", "HOST", "PID", "ROLE", "SINCE", "HEARTBEAT")
            for row in instances {
                let leads = row.id == status.leader?.instance
                table.add([
                    .init(text: row.this ? "\(row.id) (this)" : row.id), .init(text: row.host), .init(text: String(row.pid)),
                    .init(text: leads ? "leader, term \(status.leader!.term)" : row.role, colour: leads ? .green : nil),
                    .init(text: Format.time(leads ? status.leader?.since : row.started_at)), .init(text: Format.time(row.heartbeat_at)),
                ])
            }
            Output.line(table.render())
            if status.leader == nil { Output.error("warning: no droverd holds the lease right now; no phase starts until one does") }
        }
    }
}
