import Yams

/// Reads typed values out of one YAML file's nodes, recording a diagnostic with
/// file:line:column for everything wrong and carrying on, so that one run reports
/// every error.
final class YAMLFileReader {
    let file: String
    let environment: [String: String]
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    /// The document's root node; syntax errors become diagnostics. Every scalar
    /// stays a string (`.basic`: no implicit tags): the reader parses numbers and
    /// booleans itself, and Yams' default resolver ran seven regular expressions
    /// on every scalar (a third of loading 100,000 databases).
    func parse(_ text: String) -> Node? {
        do {
            return try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                diagnostics.append(Diagnostic(at: location(mark), "YAML syntax: \(problem)"))
            case .duplicatedKeysInMapping(let duplicates, let context):
                diagnostics.append(Diagnostic(at: location(context.mark), "key defined twice in one mapping: \(duplicates.joined(separator: ", "))"))
            default:
                diagnostics.append(Diagnostic(at: SourceLocation(file: file, line: 1), "YAML: \(error)"))
            }
        } catch {
            diagnostics.append(Diagnostic(at: SourceLocation(file: file, line: 1), "YAML: \(error)"))
        }
        return nil
    }

    func location(_ mark: Mark?) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column)
    }

    func location(_ node: Node) -> SourceLocation { location(node.mark) }

    func error(_ node: Node, _ message: String) {
        diagnostics.append(Diagnostic(at: location(node), message))
    }

    func error(at location: SourceLocation?, _ message: String) {
        diagnostics.append(Diagnostic(at: location, message))
    }

    func warning(_ node: Node, _ message: String) {
        diagnostics.append(Diagnostic(.warning, at: location(node), message))
    }

    /// A mapping's entries by key, checking that every key is known.
    func mapping(_ node: Node, _ what: String, allowed: [String]) -> [(key: String, keyNode: Node, value: Node)]? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping of keys to values")
            return nil
        }
        var entries: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                error(keyNode, "keys in \(what) must be plain words")
                continue
            }
            let key = scalar.string
            guard allowed.contains(key) else {
                let known = allowed.joined(separator: ", ")
                error(keyNode, "unknown key '\(key)' in \(what)\(Suggestion.didYouMean(key, in: allowed)); valid keys: \(known)")
                continue
            }
            entries.append((key, keyNode, value))
        }
        return entries
    }

    /// A scalar as a string with `${VAR}` expanded.
    func string(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(node, "\(what) must be a single value, not a \(kind(node))")
            return nil
        }
        switch EnvironmentExpansion.expand(scalar.string, environment: environment) {
        case .success(let value):
            return value
        case .failure(.undefined(let names)):
            error(node, "\(what): environment variable\(names.count > 1 ? "s" : "") \(names.map { "${\($0)}" }.joined(separator: ", ")) not defined")
        case .failure(.unterminated):
            error(node, "\(what): '${' without a closing '}' (write '$${' for a literal '${')")
        }
        return nil
    }

    func nonEmptyString(_ node: Node, _ what: String) -> String? {
        guard let value = string(node, what) else { return nil }
        guard !value.trimmingWhitespace().isEmpty else {
            error(node, "\(what) must not be empty")
            return nil
        }
        return value
    }

    func int(_ node: Node, _ what: String, atLeast minimum: Int) -> Int? {
        guard let text = string(node, what) else { return nil }
        guard let value = Int(text), value >= minimum else {
            error(node, "\(what) must be a whole number of at least \(minimum) (found '\(text)')")
            return nil
        }
        return value
    }

    func bool(_ node: Node, _ what: String) -> Bool? {
        guard let text = string(node, what) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            error(node, "\(what) must be true or false (found '\(text)')")
            return nil
        }
    }

    func duration(_ node: Node, _ what: String) -> Duration? {
        guard let text = string(node, what) else { return nil }
        do {
            return try DurationText.parse(text)
        } catch {
            self.error(node, "\(what): \(error)")
            return nil
        }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ node: Node, _ what: String, _ type: T.Type) -> T? where T.RawValue == String {
        guard let text = string(node, what) else { return nil }
        guard let value = T(rawValue: text) else {
            let options = T.allCases.map(\.rawValue)
            error(node, "\(what) must be one of \(options.joined(separator: ", ")) (found '\(text)')\(Suggestion.didYouMean(text, in: options))")
            return nil
        }
        return value
    }

    func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            error(node, "\(what) must be a list")
            return nil
        }
        return Array(sequence)
    }

    func stringList(_ node: Node, _ what: String) -> [String]? {
        guard let items = sequence(node, what) else { return nil }
        let values = items.compactMap { string($0, "an entry of \(what)") }
        return values.count == items.count ? values : nil
    }

    func stringMap(_ node: Node, _ what: String) -> [String: String]? {
        guard case .mapping(let mapping) = node else {
            error(node, "\(what) must be a mapping, e.g. {plan: enterprise}")
            return nil
        }
        var result: [String: String] = [:]
        for (keyNode, valueNode) in mapping {
            guard let key = string(keyNode, "a key of \(what)"), let value = string(valueNode, "\(what).\(key)") else { continue }
            result[key] = value
        }
        return result
    }

    private func kind(_ node: Node) -> String {
        switch node {
        case .scalar: "value"
        case .mapping: "mapping"
        case .sequence: "list"
        case .alias: "alias"
        }
    }
}
