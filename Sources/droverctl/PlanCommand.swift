import ArgumentParser
import DroverProtocol

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what promoting a revision would do, without changing anything.",
        discussion: """
            Sums the plan up by wave (how many databases move, which phases run on how many, the earliest start of window-bound ones), then lists the databases of the tier in wave order with the phases each would run to reach REV (contracts only up to what the tier has released), the SQL of each phase, and for phases bound to a maintenance window the earliest moment they may start. A tier of more than 100 databases is listed only with --all. Says whether promote would be refused now, and why, and prints the plan hash that `promote --plan-hash` takes to bind the promotion to this plan (it covers every database, listed or not).
            """
    )

    @Argument(help: ArgumentHelp("Revision id (or a unique prefix).", valueName: "rev"))
    var revision: String

    @Option(help: ArgumentHelp("Tier to promote to (default: the tier after preview).", valueName: "tier"))
    var to: String?

    @Flag(name: .customLong("no-sql"), help: "Leave out the SQL of each phase.")
    var noSQL = false

    @Flag(help: "List every database, also in a tier of more than 100.")
    var all = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var plan = try Daemon(options: global).call(.plan, FleetParameters.Plan(revision: revision, to: to, all: all ? true : nil), as: PlanReport.self)
        if noSQL {
            for database in plan.databases.indices {
                for phase in plan.databases[database].phases.indices { plan.databases[database].phases[phase].sql = nil }
            }
        }
        if global.json { return Output.json(plan) }
        Output.line("promote \(plan.revision) to \(plan.tier): " + (plan.refused.map { "would be refused now: \($0)" } ?? "would be accepted now"))
        Output.line("plan hash: \(plan.plan_hash)  (droverctl promote \(plan.revision) --to \(plan.tier) --plan-hash \(plan.plan_hash))")
        let listed = Dictionary(grouping: plan.databases, by: \.wave)
        for wave in plan.waves {
            Output.line()
            Output.line("wave \(wave.name): \(wave.databases) database\(wave.databases == 1 ? "" : "s"), \(wave.moving) to move")
            for phase in wave.phases {
                let when = Self.when(phase.earliest_start)
                Output.line("  \(phase.phase.rawValue) \(Format.revision(phase.revision)) on \(phase.databases) — \(when)")
            }
            for database in listed[wave.name] ?? [] { Self.print(database) }
        }
        if let omitted = plan.databases_omitted {
            Output.line()
            Output.line("\(omitted) databases not listed: droverctl plan \(plan.revision) --to \(plan.tier) --all lists each with its SQL")
        }
    }

    private static func print(_ database: PlanReport.DatabasePlan) {
        guard !database.phases.isEmpty else {
            Output.line("  \(database.name): nothing to do")
            return
        }
        Output.line("  \(database.name)")
        for phase in database.phases {
            let when = Self.when(phase.earliest_start)
            Output.line("    \(phase.phase.rawValue) \(Format.revision(phase.revision)) — \(when)")
            guard let sql = phase.sql else { continue }
            for line in sql.split(separator: "\n", omittingEmptySubsequences: false) { Output.line("      \(line)") }
        }
    }

    private static func when(_ earliestStart: String?) -> String {
        earliestStart.map { "earliest start \(Format.time($0))" } ?? "as soon as promoted"
    }
}
