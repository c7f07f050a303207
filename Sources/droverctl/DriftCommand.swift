import ArgumentParser
import DroverProtocol

struct DriftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "List databases whose schema differs from the others at the same revision.",
        discussion: """
            drover records a fingerprint of each database's managed schema (tables, columns, types, defaults, nullability, indexes, constraints; not data) after every phase. A database that differs from the majority at its revision is listed with what differs (column order included) against the first majority database by name; with no majority, against the first database by name, and the report says it is a tie. Exits 0 either way; --json for scripts.
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let drift = try Daemon(options: global).call(.drift, FleetParameters.None(), as: DriftReply.self)
        if global.json { return Output.json(drift) }
        guard !drift.databases.isEmpty else { return Output.line("no drift: databases at the same revision have the same schema") }
        for report in drift.databases {
            let against =
                report.reference.map { reference in
                    report.tie == true
                        ? " (a tie: no schema is shared by more databases than the others; compared with \(reference), the first by name)"
                        : " (compared with \(reference))"
                } ?? ""
            Output.line("\(report.database) at \(Format.revision(report.revision))\(against):")
            for difference in report.differences { Output.line("  \(difference)") }
        }
    }
}
