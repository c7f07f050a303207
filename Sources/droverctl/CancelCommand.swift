import ArgumentParser
import DroverProtocol

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Stop a database's running phase (or every phase running in a tier) now, and pause it.",
        discussion: """
            droverd sends the phase's session a cancel request: a transactional phase rolls back, a no-transaction section \
            stops and later resumes where it stopped. What was cancelled stays paused, with your name and reason in \
            status, until `droverctl resume`. The answer comes once the phases have stopped.

            Examples:
              droverctl cancel acme --reason "contract holds up checkout; retry tonight"
              droverctl cancel --tier tenants --reason "replica lag"
              droverctl resume --db acme
            """
    )

    @Argument(help: ArgumentHelp("Database name from the manifest.", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("Every phase running in this tier (the tier is paused).", valueName: "tier"))
    var tier: String?

    @Option(help: ArgumentHelp("Why: shown in status and kept in the audit log.", valueName: "text"))
    var reason: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if (name == nil) == (tier == nil) { throw ValidationError("give a database name or --tier, not both") }
    }

    func run() throws {
        try Daemon(options: global).change(.cancel, FleetParameters.Cancel(db: name, tier: tier, reason: reason))
    }
}
