import Foundation

/// An Alembic project used as the revision repository: `fleet.migrations` names its
/// `alembic.ini`, or the folder holding it, or its `script_location` folder (the
/// one with `env.py` and `versions/`, with the ini beside it or one level up).
public struct AlembicProject: Sendable, Hashable {
    /// The ini drover passes to `alembic -c`.
    public var iniFile: String
    /// The folder with `env.py`.
    public var scriptLocation: String
    /// Where the revision files are (`version_locations`, default `versions/`).
    public var versionLocations: [String]
    public var recursive: Bool

    /// Whether `path` looks like an Alembic project rather than a folder of drover
    /// `*.sql` revisions.
    public static func isProject(_ path: String) -> Bool {
        if path.hasSuffix(".ini") { return true }
        let manager = FileManager.default
        return manager.fileExists(atPath: path + "/alembic.ini")
            || (manager.fileExists(atPath: path + "/env.py") && manager.fileExists(atPath: path + "/versions"))
    }

    /// Finds the ini and reads its `[alembic]` section.
    public static func locate(_ path: String) throws(Diagnostic) -> AlembicProject {
        let manager = FileManager.default
        var candidates = path.hasSuffix(".ini") ? [path] : [path + "/alembic.ini"]
        if !path.hasSuffix(".ini") { candidates.append((path as NSString).deletingLastPathComponent + "/alembic.ini") }
        for ini in candidates where manager.fileExists(atPath: ini) {
            let project = try read(ini: ini)
            // An ini one level up must be the one that points at this folder.
            if ini == candidates.first || samePath(project.scriptLocation, path) { return project }
        }
        throw Diagnostic(at: nil, path.hasSuffix(".ini")
            ? "cannot read \(path): no such file"
            : "no alembic.ini for the Alembic project at \(path) (looked for \(candidates.joined(separator: " and "))); point fleet.migrations at the project's alembic.ini")
    }

    static func read(ini path: String) throws(Diagnostic) -> AlembicProject {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Diagnostic(at: nil, "cannot read \(path)")
        }
        let ini = try AlembicIni.parse(String(decoding: data, as: UTF8.self), file: path)
        let here = (path as NSString).deletingLastPathComponent
        guard let location = ini["script_location"] else {
            throw Diagnostic(at: SourceLocation(file: path, line: 1), "no script_location in the [alembic] section")
        }
        if location.value.contains(":") && !location.value.hasPrefix("/") {
            throw Diagnostic(at: SourceLocation(file: path, line: location.line), "script_location '\(location.value)' is a package resource; drover needs a folder path")
        }
        // Alembic resolves relative paths against the working directory; drover runs
        // alembic in the ini's folder, so they resolve against that.
        let scriptLocation = resolve(location.value, against: here)
        var versions = [scriptLocation + "/versions"]
        if let declared = ini["version_locations"] {
            let separator = ini["path_separator"]?.value ?? ini["version_path_separator"]?.value
            versions = split(declared.value, separator: separator).map { resolve($0, against: here) }
        }
        let recursive = ["true", "yes", "on", "1"].contains(ini["recursive_version_locations"]?.value.lowercased() ?? "")
        return AlembicProject(iniFile: path, scriptLocation: scriptLocation, versionLocations: versions, recursive: recursive)
    }

    /// Reads every revision file. A `*.sql` file among them is an error: a
    /// repository is either drover's SQL or Alembic's Python, never both.
    public func loadRevisions() -> (revisions: [Revision], diagnostics: [Diagnostic]) {
        var revisions: [Revision] = []
        var diagnostics: [Diagnostic] = []
        for folder in versionLocations {
            let files: [String]
            do {
                files = try Self.pythonFiles(in: folder, recursive: recursive)
            } catch {
                diagnostics.append(error)
                continue
            }
            for path in files {
                if path.hasSuffix(".sql") {
                    diagnostics.append(Diagnostic(at: SourceLocation(file: path, line: 1), "a drover SQL revision inside an Alembic project: drover SQL and Alembic revisions are never mixed in one repository; move it into its own repository or rewrite it as an Alembic revision"))
                    continue
                }
                guard let data = FileManager.default.contents(atPath: path) else {
                    diagnostics.append(Diagnostic(at: SourceLocation(file: path, line: 1), "cannot read file"))
                    continue
                }
                let text = String(decoding: data, as: UTF8.self)
                switch AlembicRevisionFile.parse(text, file: path) {
                case .success(let file): revisions.append(file.revision(text: text))
                case .failure(let diagnostic): diagnostics.append(diagnostic)
                }
            }
        }
        return (revisions, diagnostics)
    }

    private static func pythonFiles(in folder: String, recursive: Bool) throws(Diagnostic) -> [String] {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: folder) else {
            throw Diagnostic(at: nil, "cannot read the Alembic versions folder \(folder)")
        }
        var files: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") && !name.hasPrefix("__") {
            let path = folder + "/" + name
            var isDirectory: ObjCBool = false
            _ = manager.fileExists(atPath: path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                if recursive { files += try pythonFiles(in: path, recursive: true) }
            } else if name.hasSuffix(".py") || name.hasSuffix(".sql") {
                files.append(path)
            }
        }
        return files
    }

    private static func resolve(_ path: String, against base: String) -> String {
        let joined = path.hasPrefix("/") ? path : (base.isEmpty ? path : base + "/" + path)
        return (joined as NSString).standardizingPath
    }

    private static func samePath(_ a: String, _ b: String) -> Bool {
        let absolute = { (path: String) in
            (path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path).replacingOccurrences(of: "//", with: "/")
        }
        return (absolute(a) as NSString).standardizingPath == (absolute(b) as NSString).standardizingPath
    }

    /// `version_locations` as Alembic splits it: by the declared separator, else
    /// (the legacy rule) by spaces and commas.
    private static func split(_ value: String, separator: String?) -> [String] {
        let parts: [Substring]
        switch separator {
        case "space": parts = value.split(whereSeparator: \.isWhitespace)
        case "newline": parts = value.split(separator: "\n")
        case "os", ":": parts = value.split(separator: ":")
        case ";": parts = value.split(separator: ";")
        default: parts = value.split { $0.isWhitespace || $0 == "," }
        }
        return parts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

extension AlembicRevisionFile {
    /// The revision as the graph and the planner see it: one section, of the
    /// declared phase, applied by `alembic upgrade`. `depends_on` orders like a
    /// parent, as `alembic upgrade` applies dependencies first.
    public func revision(text: String) -> Revision {
        let section = Section(
            phase: phase, location: location, noTransaction: false, backfill: nil,
            body: text, statements: [], checksum: Checksum.of(sectionBody: text), engine: .alembic
        )
        var allParents = parents
        for dependency in dependsOn where !allParents.contains(dependency) { allParents.append(dependency) }
        return Revision(id: id, parents: allParents, message: message, location: location, sections: [phase: section])
    }
}
