import DroverCore
import Foundation

/// The manifest and the revision repository, loaded together: the daemon only ever
/// switches to a pair in which both are valid.
public struct FleetDefinition: Sendable {
    public var manifestDirectory: String
    public var manifest: Manifest
    public var repository: RevisionRepository

    public static func load(
        manifestDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Result<FleetDefinition, FleetError> {
        let (manifest, diagnostics) = ManifestLoader(environment: environment).load(directory: manifestDirectory)
        guard let manifest else { return .failure(.manifestInvalid(diagnostics)) }
        let (repository, revisionDiagnostics) = RevisionRepository.load(directory: manifest.fleet.migrations)
        guard let repository else { return .failure(.manifestInvalid(revisionDiagnostics)) }
        return .success(FleetDefinition(manifestDirectory: manifestDirectory, manifest: manifest, repository: repository))
    }

    /// `fleet.state`, else `$STATE_DIRECTORY/state.db`, else `./.drover/state.db`.
    public func statePath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let state = manifest.fleet.state { return state }
        if let directory = environment["STATE_DIRECTORY"]?.split(separator: ":").first { return "\(directory)/state.db" }
        return ".drover/state.db"
    }

    /// `fleet.socket`, else `$RUNTIME_DIRECTORY/control.sock`, else `./.drover/control.sock`.
    public func socketPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let socket = manifest.fleet.socket { return socket }
        if let directory = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first { return "\(directory)/control.sock" }
        return ".drover/control.sock"
    }
}
