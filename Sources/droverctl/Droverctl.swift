import ArgumentParser
import Foundation

/// `droverctl`: the operator's tool. Offline commands (`check`, `new`) work on the
/// files; the others talk to `droverd` over its control socket.
struct Droverctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "droverctl",
        abstract: "Control drover, which moves a fleet of PostgreSQL databases from one schema revision to the next.",
        discussion: """
            Offline commands work on the manifest and the revision files and need no daemon:
              check   validate fleet.d/ and the migrations, lint expand sections
              new     write a new revision file whose parent is the current head

            Exit codes: 0 success, 1 refused or failed, 2 bad usage, 3 daemon unreachable.
            """,
        subcommands: [CheckCommand.self, NewCommand.self, MigrateLocalCommand.self]
    )
}

/// Exit codes scripts rely on (SPEC §8).
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
