import ArgumentParser
import DroverProtocol

struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Set the next tier's target to a revision that the previous tier has proven.",
        discussion: """
            Refused, with the reason, unless every database of the previous tier has REV expanded, none of them failed, and their schemas agree at REV (no drift). --force overrides the gate; it needs --reason, and both go to the audit log. Promoting a tier's current target again changes nothing. Run `droverctl plan REV` first to see what will happen.

            --plan-hash binds the promotion to the plan you reviewed: it is refused (PlanChanged, exit 1) when the plan changed since `droverctl plan` printed the hash (a revision file edited, a database added to the tier or moved on). fleet.require_plan_hash makes it mandatory for the tiers it names. Example:
              droverctl plan 9f3a6c2e8b15 --to production     # review; note "plan hash: 5c0e..."
              droverctl promote 9f3a6c2e8b15 --to production --plan-hash 5c0e...
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

    @Option(help: ArgumentHelp("The plan hash of the reviewed plan (droverctl plan); refused if the plan changed.", valueName: "hash"))
    var planHash: String?

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if force && (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--force needs --reason TEXT: say why the gate is overridden (it goes to the audit log)")
        }
    }

    func run() throws {
        try Daemon(options: global).change(
            .promote, FleetParameters.Promote(revision: revision, to: to, force: force ? true : nil, reason: reason, plan_hash: planHash))
    }
}
