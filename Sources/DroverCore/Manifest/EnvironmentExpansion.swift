/// `${VAR}` in manifest strings, replaced from the environment. An undefined
/// variable is an error, never a silent empty string; `${VAR:-fallback}` names the
/// fallback explicitly (as in the shell); `$${` writes a literal `${`.
public enum EnvironmentExpansion {
    public enum Failure: Error, Equatable {
        case undefined([String])
        case unterminated
    }

    public static func expand(_ text: String, environment: [String: String]) -> Result<String, Failure> {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return .success(text) }
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
                let expression = String(text[text.index(index, offsetBy: 2)..<close])
                let parts = expression.split(separator: ":-", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(parts[0])
                if let value = environment[name], !(parts.count == 2 && value.isEmpty) {
                    output += value
                } else if parts.count == 2 {
                    output += parts[1]
                } else {
                    missing.append(name)
                }
                index = text.index(after: close)
            } else {
                output.append(text[index])
                index = text.index(after: index)
            }
        }
        return missing.isEmpty ? .success(output) : .failure(.undefined(missing))
    }
}
