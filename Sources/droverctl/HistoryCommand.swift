import ArgumentParser
import DroverProtocol

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show the phases applied, failed, stamped or reverted, newest first.",
        discussion: "With times, durations, rows touched by backfills, and who: droverd itself, or the operator of a manual stamp, revert or adopt."
    )

    @Argument(help: ArgumentHelp("Only this database.", valueName: "name"))
    var name: String?

    @Flag(help: "Also print what Alembic printed for each phase it ran (Alembic projects).")
    var output = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let history = try Daemon(options: global).call(.history, FleetParameters.History(db: name), as: HistoryReply.self)
        if global.json { return Output.json(history) }
        var table = Table("STARTED", "DATABASE", "REVISION", "PHASE", "OUTCOME", "DURATION", "ROWS", "WHO", "ERROR")
        for entry in history.entries {
            table.add([
                .init(text: Format.time(entry.started_at)), .init(text: entry.database), .init(text: Format.revision(entry.revision)),
                .init(text: entry.phase.rawValue), .init(text: entry.outcome, colour: entry.outcome == "failed" ? .red : nil),
                .init(text: Format.seconds(entry.seconds)), .init(text: String(entry.rows)), .init(text: entry.actor),
                .init(text: Format.text(entry.error?.split(separator: "\n").first.map(String.init))),
            ])
        }
        Output.line(history.entries.isEmpty ? "no phases recorded yet" : table.render())
        guard output else { return }
        for entry in history.entries {
            guard let text = entry.output?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { continue }
            Output.line("\n── \(entry.database) \(entry.phase.rawValue) \(entry.revision) (\(entry.outcome), \(Format.time(entry.started_at)))")
            Output.line(text)
        }
    }
}
