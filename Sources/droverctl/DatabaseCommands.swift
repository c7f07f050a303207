import ArgumentParser
import DroverProtocol

struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Clear a database's failure and try its next phase again now."
    )

    @Argument(help: ArgumentHelp("Database name from the manifest.", valueName: "name"))
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Daemon(options: global).change(.retry, FleetParameters.Database(db: name))
    }
}

struct RevertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revert",
        abstract: "Run a revision's revert section on one database (only before its contract).",
        discussion: "Waits until the revert has run, and exits 1 with the database's error if it failed (the database is then as before)."
    )

    @Argument(help: ArgumentHelp("Database name from the manifest.", valueName: "name"))
    var name: String

    @Argument(help: ArgumentHelp("Revision id (or a unique prefix).", valueName: "rev"))
    var revision: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Daemon(options: global).change(.revert, FleetParameters.Revert(db: name, revision: revision))
    }
}

struct StampCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stamp",
        abstract: "Record a revision as applied on one database without running it.",
        discussion: """
            For schema changes that were made by hand. Without --phase, every phase of REV (and of its ancestors not yet recorded) is stamped. The reason goes to the audit log.
            """
    )

    @Argument(help: ArgumentHelp("Database name from the manifest.", valueName: "name"))
    var name: String

    @Argument(help: ArgumentHelp("Revision id (or a unique prefix).", valueName: "rev"))
    var revision: String

    @Option(help: ArgumentHelp("Only this phase: expand, backfill or contract.", valueName: "phase"))
    var phase: String?

    @Option(help: ArgumentHelp("Why the revision is recorded without running it.", valueName: "text"))
    var reason: String

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let phase, !["expand", "backfill", "contract"].contains(phase) {
            throw ValidationError("--phase must be expand, backfill or contract")
        }
    }

    func run() throws {
        try Daemon(options: global).change(.stamp, FleetParameters.Stamp(db: name, revision: revision, phase: phase, reason: reason))
    }
}

struct AdoptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adopt",
        abstract: "Take over a database that Alembic managed until now.",
        discussion: "Its alembic_version revisions are recorded as applied (every phase, with their ancestors); audited."
    )

    @Argument(help: ArgumentHelp("Database name from the manifest.", valueName: "name"))
    var name: String

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Daemon(options: global).change(.adopt, FleetParameters.Database(db: name))
    }
}

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Re-read the manifest and the migrations (the same as SIGHUP).",
        discussion: "On any error droverd keeps running on what it had, and this command lists the errors and exits 1."
    )

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Daemon(options: global).change(.reload, FleetParameters.None())
    }
}
