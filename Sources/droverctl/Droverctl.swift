import ArgumentParser
import DroverProtocol
import Foundation

/// `droverctl`: the operator's tool. Offline commands (`check`, `new`) work on the
/// files; the others talk to `droverd` over its control socket.
struct Droverctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "droverctl",
        abstract: "Control drover, which moves a fleet of PostgreSQL databases from one schema revision to the next.",
        discussion: """
            droverd moves every database of the fleet manifest (fleet.d/*.yaml) through each revision's expand, backfill and contract phases: preview follows the newest revision, later tiers move when you promote a revision the previous tier has proven, tenants move in waves, and contracts wait for a release and a maintenance window.

            Most commands talk to droverd over its control socket (--socket, $DROVER_SOCKET). Reading commands work for anyone who can open the socket; changing ones need root or membership of the operators group (fleet.operators_group, default drover). check and new work offline on the files.

            A release, step by step:
              droverctl status                         where every database is
              droverctl plan 3f2a9c1e                  what promoting would do
              droverctl promote 3f2a9c1e               production expands and backfills
              droverctl release 3f2a9c1e               contracts may now run, in windows
              droverctl promote 3f2a9c1e --to tenants  tenants follow, wave by wave
              droverctl watch                          follow it live

            Exit codes: 0 success, 1 refused or failed, 2 bad usage, 3 daemon unreachable.
            """,
        version: DroverVersion.current,
        subcommands: [
            StatusCommand.self, PlanCommand.self, PromoteCommand.self, ReleaseCommand.self, DeployCommand.self,
            PauseCommand.self, ResumeCommand.self, CancelCommand.self, RetryCommand.self, RevertCommand.self, StampCommand.self,
            AdoptCommand.self, HistoryCommand.self, DriftCommand.self, WindowsCommand.self, WatchCommand.self,
            ReloadCommand.self, CheckCommand.self, VerifyCommand.self, NewCommand.self, MigrateLocalCommand.self,
        ]
    )
}

/// Exit codes scripts rely on (docs/cli.md).
enum ExitStatus {
    static let failed: Int32 = 1
    static let usage: Int32 = 2
    static let unreachable: Int32 = 3
}

@main
enum Main {
    static func main() async {
        do {
            var command = try Droverctl.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            // argument-parser reports bad usage as 64 (EX_USAGE); drover promises 2.
            if Droverctl.exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((Droverctl.fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage)
            }
            Droverctl.exit(withError: error)
        }
    }
}
