import DroverCore
import Foundation

/// How the commands that work without the daemon (`migrate-local`, `verify`) end on
/// an error: its lines on stderr, then the exit code.
enum OfflineExit {
    static func fail(_ lines: [String], status: Int32 = ExitStatus.failed) -> Never {
        for line in lines { Output.error(line) }
        Foundation.exit(status)
    }

    /// A full revision id for `id` or a prefix of one; exits when there is none.
    static func resolve(_ id: String, in repository: RevisionRepository, status: Int32 = ExitStatus.failed) -> String {
        switch repository.graph.resolve(id) {
        case .success(let full): full
        case .failure(let error): fail([error.description], status: status)
        }
    }
}
