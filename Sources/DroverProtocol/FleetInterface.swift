/// The `io.drover.Fleet` interface description, embedded at build time from
/// `io.drover.Fleet.varlink` in this folder: the text the server returns from
/// `GetInterfaceDescription` is the file in the source tree.
public enum FleetInterface {
    public static let name = "io.drover.Fleet"

    public static let description = String(decoding: PackageResources.io_drover_Fleet_varlink, as: UTF8.self)

    /// Method names declared in the description (`Status`, `Promote`, ...).
    public static var methods: [String] { declarations(of: "method") }

    /// Error names declared in the description (`NotAllowed`, ...).
    public static var errors: [String] { declarations(of: "error") }

    private static func declarations(of keyword: String) -> [String] {
        description.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "(" })
            guard words.count >= 2, words[0] == keyword else { return nil }
            return String(words[1])
        }
    }
}
