import ArgumentParser
import DroverProtocol

struct DeployCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Pin a tier's target to a revision.",
        discussion: """
            For preview, which otherwise follows the newest revision; or to move a tier's target back before its contract has run. Unlike promote, deploy does not check the previous tier.
            """
    )

    @Argument(help: ArgumentHelp("Revision id (or a unique prefix).", valueName: "rev"))
    var revision: String

    @Option(help: ArgumentHelp("Tier whose target is set.", valueName: "tier"))
    var tier: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Daemon(options: global).change(.deploy, FleetParameters.Deploy(revision: revision, tier: tier))
    }
}
