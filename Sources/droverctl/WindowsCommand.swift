import ArgumentParser
import DroverProtocol
import Foundation

struct WindowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "windows",
        abstract: "Show each database's maintenance window: open now or not, and its next opening and closing.",
        discussion: "Times are shown in the window's own zone and in this machine's; --json gives ISO 8601 times."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let windows = try Daemon(options: global).call(.windows, FleetParameters.None(), as: WindowsReply.self)
        if global.json { return Output.json(windows) }
        let local = TimeZone.current
        var table = Table("DATABASE", "WINDOW", "OPEN", "NEXT OPENING (WINDOW'S ZONE)", "NEXT OPENING (\(local.identifier))", "CLOSES (\(local.identifier))")
        for row in windows.windows {
            let zone = row.timezone.flatMap(TimeZone.init(identifier:)) ?? local
            table.add([
                .init(text: row.database), .init(text: row.window),
                .init(text: row.open ? "open" : "closed", colour: row.open ? .green : nil),
                .init(text: row.open ? "now" : Format.time(row.next_open, in: zone) + (row.timezone.map { " \($0)" } ?? "")),
                .init(text: row.open ? "now" : Format.time(row.next_open)),
                .init(text: row.next_close.map { Format.time($0) } ?? (row.open ? "never" : "-")),
            ])
        }
        Output.line(table.render())
    }
}
