import ArgumentParser
import DroverProtocol

struct ReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Allow contracts up to a revision: the application no longer needs the older schema.",
        discussion: """
            Contracts (dropping columns, setting NOT NULL, ...) run only after a release, and then only inside each database's maintenance window. Without --tier, REV is released in every tier. Releasing again changes nothing.
            """
    )

    @Argument(help: ArgumentHelp("Revision id (or a unique prefix).", valueName: "rev"))
    var revision: String

    @Option(help: ArgumentHelp("Only this tier (default: every tier).", valueName: "tier"))
    var tier: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Daemon(options: global).change(.release, FleetParameters.Release(revision: revision, tier: tier))
    }
}
