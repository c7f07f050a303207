/// One revision of an Alembic project (`versions/*.py`), read without running
/// Python: the module-level assignments Alembic itself reads (`revision`,
/// `down_revision`, `branch_labels`, `depends_on`), the docstring's first line as
/// the message, and drover's `drover_phase` (`"expand"`, the default, or
/// `"contract"`, which release and windows hold back like a native contract).
public struct AlembicRevisionFile: Sendable, Hashable {
    public var id: String
    /// `down_revision`: none for a root, several for a merge.
    public var parents: [String]
    public var branchLabels: [String]
    public var dependsOn: [String]
    public var message: String
    public var phase: Phase
    public var location: SourceLocation

    /// Parses one file's text; errors name the file and line.
    public static func parse(_ text: String, file: String) -> Result<AlembicRevisionFile, Diagnostic> {
        let assignments: [String: PythonAssignment]
        do {
            assignments = try PythonAssignment.moduleLevel(in: text, file: file)
        } catch {
            return .failure(error)
        }
        func strings(_ name: String) -> Result<[String], Diagnostic> {
            guard let assignment = assignments[name] else { return .success([]) }
            switch assignment.value {
            case .none: return .success([])
            case .string(let value): return .success([value])
            case .strings(let values): return .success(values)
            case .other(let text):
                return .failure(
                    Diagnostic(at: SourceLocation(file: file, line: assignment.line), "\(name) must be a string, None or a tuple of strings, not \(text)"))
            }
        }
        guard let revision = assignments["revision"] else {
            return .failure(Diagnostic(at: SourceLocation(file: file, line: 1), "no module-level `revision = \"...\"`: not an Alembic revision file"))
        }
        guard case .string(let id) = revision.value, !id.isEmpty else {
            return .failure(Diagnostic(at: SourceLocation(file: file, line: revision.line), "revision must be a non-empty string"))
        }
        var phase = Phase.expand
        if let declared = assignments["drover_phase"] {
            guard case .string(let name) = declared.value, let parsed = Phase(rawValue: name), parsed == .expand || parsed == .contract else {
                return .failure(Diagnostic(at: SourceLocation(file: file, line: declared.line), "drover_phase must be \"expand\" or \"contract\""))
            }
            phase = parsed
        }
        do {
            return .success(
                AlembicRevisionFile(
                    id: id,
                    parents: try strings("down_revision").get(),
                    branchLabels: try strings("branch_labels").get(),
                    dependsOn: try strings("depends_on").get(),
                    message: PythonAssignment.docstringFirstLine(text) ?? "",
                    phase: phase,
                    location: SourceLocation(file: file, line: revision.line)
                ))
        } catch {
            return .failure(error)
        }
    }
}
