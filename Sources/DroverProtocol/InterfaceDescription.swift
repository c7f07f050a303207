/// A varlink interface description (`.varlink` text), read far enough to list its
/// methods with their input fields and its errors: the server checks calls
/// against it, and tests check that the server implements exactly what it declares.
public struct InterfaceDescription: Sendable {
    public let text: String
    public let name: String
    /// Method name → names of its input fields, in declaration order.
    public let methods: [String: [String]]
    public let errors: [String]

    public init(_ text: String) {
        self.text = text
        // Comments run from `#` to the end of the line; the rest is tokens.
        let code = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in line.firstIndex(of: "#").map { line[..<$0] } ?? line[...] }
            .joined(separator: " ")
        var tokens: [String] = []
        var word = ""
        for character in code {
            if character.isLetter || character.isNumber || character == "_" || character == "." {
                word.append(character)
            } else {
                if !word.isEmpty {
                    tokens.append(word)
                    word = ""
                }
                if !character.isWhitespace { tokens.append(String(character)) }
            }
        }
        if !word.isEmpty { tokens.append(word) }

        var name = "", methods: [String: [String]] = [:], errors: [String] = []
        var index = 0
        while index < tokens.count {
            switch tokens[index] {
            case "interface" where name.isEmpty && index + 1 < tokens.count:
                name = tokens[index + 1]
            case "error" where index + 1 < tokens.count && tokens[index + 1].first?.isUppercase == true:
                errors.append(tokens[index + 1])
            case "method" where index + 2 < tokens.count && tokens[index + 2] == "(":
                // Input fields: identifiers followed by `:` at depth 1 of the first list.
                var fields: [String] = [], depth = 0, cursor = index + 2
                repeat {
                    switch tokens[cursor] {
                    case "(": depth += 1
                    case ")": depth -= 1
                    case ":" where depth == 1: fields.append(tokens[cursor - 1])
                    default: break
                    }
                    cursor += 1
                } while depth > 0 && cursor < tokens.count
                methods[tokens[index + 1]] = fields
            default:
                break
            }
            index += 1
        }
        self.name = name
        self.methods = methods
        self.errors = errors
    }
}

/// The interfaces droverd serves, from the `.varlink` files in this folder
/// (embedded at build time: what `GetInterfaceDescription` returns is the file in
/// the source tree).
public enum Interfaces {
    public static let fleet = InterfaceDescription(String(decoding: PackageResources.io_drover_Fleet_varlink, as: UTF8.self))
    public static let service = InterfaceDescription(String(decoding: PackageResources.org_varlink_service_varlink, as: UTF8.self))
    public static let all = [service, fleet]
}
