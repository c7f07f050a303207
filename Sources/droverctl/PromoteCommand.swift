import ArgumentParser
import DroverProtocol

struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Set the next tier's target to a revision that the previous tier has proven.",
        discussion: """
            Refused, with the reason, unless every database of the previous tier has REV expanded, none of them failed, and their schemas agree at REV (no drift). --force overrides the gate; it needs --reason, and both go to the audit log. Promoting a tier's current target again changes nothing. Run `droverctl plan REV` first to see what will happen.
            """
    )

    @Argument(help: ArgumentHelp("Revision id (or a unique prefix).", valueName: "rev"))
    var revision: String

    @Option(help: ArgumentHelp("Tier to promote to (default: the tier after preview).", valueName: "tier"))
    var to: String?

    @Flag(help: "Promote even though the gate refuses (needs --reason).")
    var force = false

    @Option(help: ArgumentHelp("Why the gate is overridden; written to the audit log.", valueName: "text"))
    var reason: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if force && (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--force needs --reason TEXT: say why the gate is overridden (it goes to the audit log)")
        }
    }

    func run() throws {
        try Daemon(options: global).change(.promote, FleetParameters.Promote(revision: revision, to: to, force: force ? true : nil, reason: reason))
    }
}
