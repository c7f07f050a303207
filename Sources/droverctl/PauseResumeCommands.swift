import ArgumentParser
import DroverProtocol

/// Which part of the fleet `pause` and `resume` act on.
struct ScopeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Only this tier.", valueName: "tier"))
    var tier: String?

    @Option(help: ArgumentHelp("Only this database.", valueName: "name"))
    var db: String?

    func validate() throws {
        if tier != nil && db != nil { throw ValidationError("give --tier or --db, not both") }
    }

    var parameters: FleetParameters.Scope { FleetParameters.Scope(tier: tier, db: db) }
}

struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop starting new phases in the whole fleet, a tier, or one database.",
        discussion: "Phases already running finish. The pause survives a restart of droverd; `droverctl resume` ends it."
    )

    @OptionGroup var scope: ScopeOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Daemon(options: global).change(.pause, scope.parameters)
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue after a pause, or after a tier halted on its failure budget.",
        discussion: "Resuming a halted tier retries the databases that failed in it: do so once you have looked at them."
    )

    @OptionGroup var scope: ScopeOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Daemon(options: global).change(.resume, scope.parameters)
    }
}
