import Foundation
import Yams

/// Loads `fleet.d/*.yaml` (docs/manifest.md): every file in lexical order, merged like systemd
/// drop-ins. `fleet` and `defaults` keys of a later file override earlier ones; a
/// window, database or tier's waves defined twice is an error naming both places.
public struct ManifestLoader: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Loads every `*.yaml` / `*.yml` file of `directory`.
    public func load(directory: String) -> (manifest: Manifest?, diagnostics: [Diagnostic]) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .sorted()
        } catch {
            return (nil, [Diagnostic(at: nil, "cannot read manifest directory \(directory): \(error.localizedDescription)")])
        }
        guard !names.isEmpty else {
            return (nil, [Diagnostic(at: nil, "no *.yaml files in manifest directory \(directory)")])
        }
        var files: [(path: String, text: String)] = []
        var diagnostics: [Diagnostic] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                diagnostics.append(Diagnostic(at: SourceLocation(file: path, line: 1), "cannot read file"))
                continue
            }
            files.append((path, String(decoding: data, as: UTF8.self)))
        }
        let (manifest, found) = load(files: files)
        return (diagnostics.isEmpty ? manifest : nil, diagnostics + found)
    }

    /// Loads manifest texts already read (paths are used for messages and to resolve
    /// relative paths).
    public func load(files: [(path: String, text: String)]) -> (manifest: Manifest?, diagnostics: [Diagnostic]) {
        var builder = ManifestBuilder()
        for file in files {
            let reader = YAMLFileReader(file: file.path, environment: environment)
            if let root = reader.parse(file.text) {
                var parser = ManifestFileParser(reader: reader, builder: builder)
                parser.read(root)
                builder = parser.builder
            }
            builder.diagnostics += reader.diagnostics
        }
        let manifest = builder.build(files: files.map(\.path))
        let diagnostics = builder.diagnostics
        return (diagnostics.errors.isEmpty ? manifest : nil, diagnostics)
    }
}

/// A value with the place it was written, for "defined twice" messages.
struct Located<Value> {
    var value: Value
    var location: SourceLocation
}
