/// `${VAR}` in manifest strings, replaced from the environment. An undefined
/// variable is an error, never a silent empty string; `$${` writes a literal `${`.
public enum EnvironmentExpansion {
    public enum Failure: Error, Equatable {
        case undefined([String])
        case unterminated
    }

    public static func expand(_ text: String, environment: [String: String]) -> Result<String, Failure> {
        guard text.contains("$") else { return .success(text) }
        var output = ""
        var missing: [String] = []
        var index = text.startIndex
        while index < text.endIndex {
            let rest = text[index...]
            if rest.hasPrefix("$${") {
                output += "${"
                index = text.index(index, offsetBy: 3)
            } else if rest.hasPrefix("${") {
                guard let close = rest.firstIndex(of: "}") else { return .failure(.unterminated) }
                let name = String(text[text.index(index, offsetBy: 2)..<close])
                if let value = environment[name] { output += value } else { missing.append(name) }
                index = text.index(after: close)
            } else {
                output.append(text[index])
                index = text.index(after: index)
            }
        }
        return missing.isEmpty ? .success(output) : .failure(.undefined(missing))
    }
}
