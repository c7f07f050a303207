import Foundation

/// An Alembic project used as the revision repository: `fleet.migrations` names its
/// `alembic.ini` or `pyproject.toml`, or the folder holding it, or its
/// `script_location` folder (the one with `env.py` and `versions/`, with the
/// configuration beside it or one level up). Every layout `alembic init` writes
/// (generic, async, multidb, pyproject) is read; relative paths and `%(here)s`
/// resolve as Alembic resolves them.
public struct AlembicProject: Sendable, Hashable {
    /// The file that configures the project (`alembic.ini`, or `pyproject.toml`).
    public var iniFile: String
    /// The `alembic.ini` drover passes to `alembic -c`, when there is one.
    public var iniArgument: String?
    /// Where `alembic` runs: Alembic finds `pyproject.toml` in its working directory.
    public var workingDirectory: String
    /// The folder with `env.py`.
    public var scriptLocation: String
    /// Where the revision files are (`version_locations`, default `versions/`).
    public var versionLocations: [String]
    public var recursive: Bool

    /// Whether `path` looks like an Alembic project rather than a folder of drover
    /// `*.sql` revisions.
    public static func isProject(_ path: String) -> Bool {
        if path.hasSuffix(".ini") { return true }
        if path.hasSuffix("pyproject.toml") { return AlembicPyproject.declaresAlembic(path) }
        let manager = FileManager.default
        return manager.fileExists(atPath: path + "/alembic.ini")
            || AlembicPyproject.declaresAlembic(path + "/pyproject.toml")
            || (manager.fileExists(atPath: path + "/env.py") && manager.fileExists(atPath: path + "/versions"))
    }

    /// `path` made absolute against the working directory, as Alembic does with
    /// the configuration's folder (`%(here)s`).
    static func absolute(_ path: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        let joined = path.hasPrefix("/") ? path : (path.isEmpty || path == "." ? cwd : cwd + "/" + path)
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }

    /// Finds the configuration and reads where the scripts are.
    public static func locate(_ path: String) throws(Diagnostic) -> AlembicProject {
        let path = absolute(path)
        let manager = FileManager.default
        let isFile = path.hasSuffix(".ini") || path.hasSuffix(".toml")
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let candidates = isFile ? [path] : [path + "/alembic.ini", path + "/pyproject.toml", parent + "/alembic.ini", parent + "/pyproject.toml"]
        for file in candidates where manager.fileExists(atPath: file) {
            if file.hasSuffix(".toml") && !isFile && !AlembicPyproject.declaresAlembic(file) { continue }
            let project = try read(file)
            // A configuration one level up must be the one that points at this folder.
            if isFile || (file.hasPrefix(path + "/") && !file.dropFirst(path.count + 1).contains("/")) || samePath(project.scriptLocation, path) {
                return project
            }
        }
        throw Diagnostic(
            at: nil,
            isFile
                ? "cannot read \(path): no such file"
                : "no alembic.ini or pyproject.toml with [tool.alembic] for the Alembic project at \(path); point fleet.migrations at the project's alembic.ini or pyproject.toml"
        )
    }

    /// An `alembic.ini` (with its folder's `pyproject.toml` when the ini has no
    /// `script_location`, as the pyproject template writes them), or a `pyproject.toml`.
    static func read(_ path: String) throws(Diagnostic) -> AlembicProject {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let siblingToml = folder + "/pyproject.toml"
        var ini: AlembicIni?
        var settings: [String: (values: [String], line: Int, file: String)] = [:]
        if path.hasSuffix(".ini") {
            guard let data = FileManager.default.contents(atPath: path) else { throw Diagnostic(at: nil, "cannot read \(path)") }
            let parsed = try AlembicIni.parse(String(decoding: data, as: UTF8.self), file: path)
            ini = parsed
            for (key, entry) in parsed.entries { settings[key] = ([entry.value], entry.line, path) }
        }
        if settings["script_location"] == nil {
            let toml = path.hasSuffix(".toml") ? path : siblingToml
            if FileManager.default.fileExists(atPath: toml) {
                guard let data = FileManager.default.contents(atPath: toml) else { throw Diagnostic(at: nil, "cannot read \(toml)") }
                let table = try AlembicPyproject.parse(String(decoding: data, as: UTF8.self), file: toml)
                for (key, entry) in table.entries { settings[key] = (entry.values, entry.line, toml) }
            }
        }
        guard let location = settings["script_location"]?.values.first else {
            throw Diagnostic(
                at: SourceLocation(file: path, line: 1),
                path.hasSuffix(".ini")
                    ? "no script_location in the [alembic] section, nor in [tool.alembic] of \(siblingToml)"
                    : "no script_location in [tool.alembic]")
        }
        let locationLine = settings["script_location"]!
        if location.contains(":") && !location.hasPrefix("/") {
            throw Diagnostic(
                at: SourceLocation(file: locationLine.file, line: locationLine.line),
                "script_location '\(location)' is a package resource; drover needs a folder path")
        }
        // Alembic resolves relative paths against its working directory; drover runs
        // alembic in the configuration's folder, so they resolve against that.
        let scriptLocation = resolve(location, against: folder)
        var versions = [scriptLocation + "/versions"]
        if let declared = settings["version_locations"] {
            if declared.file.hasSuffix(".toml") {
                versions = declared.values.map { resolve($0, against: folder) }
            } else {
                let separator = ini?["path_separator"]?.value ?? ini?["version_path_separator"]?.value
                versions = split(declared.values.first ?? "", separator: separator).map { resolve($0, against: folder) }
            }
        }
        let recursive = ["true", "yes", "on", "1"].contains(settings["recursive_version_locations"]?.values.first?.lowercased() ?? "")
        let iniFile = path.hasSuffix(".ini") ? path : (FileManager.default.fileExists(atPath: folder + "/alembic.ini") ? folder + "/alembic.ini" : nil)
        return AlembicProject(
            iniFile: path, iniArgument: iniFile, workingDirectory: folder,
            scriptLocation: scriptLocation, versionLocations: versions, recursive: recursive)
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
                    diagnostics.append(
                        Diagnostic(
                            at: SourceLocation(file: path, line: 1),
                            "a drover SQL revision inside an Alembic project: drover SQL and Alembic revisions are never mixed in one repository; move it into its own repository or rewrite it as an Alembic revision"
                        ))
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
        URL(fileURLWithPath: path.hasPrefix("/") ? path : base + "/" + path).standardizedFileURL.path
    }

    private static func samePath(_ a: String, _ b: String) -> Bool {
        absolute(a) == absolute(b)
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
        var revision = Revision(id: id, parents: allParents, message: message, location: location, sections: [phase: section])
        revision.dependencies = dependsOn.filter { !parents.contains($0) }
        return revision
    }
}
