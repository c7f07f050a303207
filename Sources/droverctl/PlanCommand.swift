import ArgumentParser
import DroverProtocol

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what promoting a revision would do, without changing anything.",
        discussion: """
            Lists the databases of the tier in wave order with the phases each would run to reach REV (contracts only up to what the tier has released), the SQL of each phase, and for phases bound to a maintenance window the earliest moment they may start. Says whether promote would be refused now, and why, and prints the plan hash that `promote --plan-hash` takes to bind the promotion to this plan.
            """
    )

    @Argument(help: ArgumentHelp("Revision id (or a unique prefix).", valueName: "rev"))
    var revision: String

    @Option(help: ArgumentHelp("Tier to promote to (default: the tier after preview).", valueName: "tier"))
    var to: String?

    @Flag(name: .customLong("no-sql"), help: "Leave out the SQL of each phase.")
    var noSQL = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var plan = try Daemon(options: global).call(.plan, FleetParameters.Plan(revision: revision, to: to), as: PlanReport.self)
        if noSQL {
            for database in plan.databases.indices {
                for phase in plan.databases[database].phases.indices { plan.databases[database].phases[phase].sql = nil }
            }
        }
        if global.json { return Output.json(plan) }
        Output.line("promote \(plan.revision) to \(plan.tier): " + (plan.refused.map { "would be refused now: \($0)" } ?? "would be accepted now"))
        Output.line("plan hash: \(plan.plan_hash)  (droverctl promote \(plan.revision) --to \(plan.tier) --plan-hash \(plan.plan_hash))")
        var wave: String?
        for database in plan.databases {
            if database.wave != wave {
                wave = database.wave
                Output.line()
                Output.line("wave \(database.wave)")
            }
            guard !database.phases.isEmpty else {
                Output.line("  \(database.name): nothing to do")
                continue
            }
            Output.line("  \(database.name)")
            for phase in database.phases {
                let when = phase.earliest_start.map { "earliest start \(Format.time($0))" } ?? "as soon as promoted"
                Output.line("    \(phase.phase.rawValue) \(Format.revision(phase.revision)) — \(when)")
                guard let sql = phase.sql else { continue }
                for line in sql.split(separator: "\n", omittingEmptySubsequences: false) { Output.line("      \(line)") }
            }
        }
    }
}
