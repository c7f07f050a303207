import Foundation

/// Turning a row of a `discover` query into a database (docs/manifest.md): `{column}` in the
/// template's strings is replaced by that column of the row.
extension DiscoverSpec {
    public func database(from row: [String: String], defaults: SettingsLayer) -> Result<DatabaseSpec, DiscoveryError> {
        guard let name = row["name"], !name.isEmpty else { return .failure(.noNameColumn) }
        guard Identifier.isName(name) else { return .failure(.badName(name)) }
        let layer = template.overriding(defaults)
        guard let dsnTemplate = layer.dsn else { return .failure(.missing("dsn", name)) }
        guard let window = layer.window.map({ Self.fill($0, row, quoting: .none) }) else { return .failure(.missing("window", name)) }
        let isURI = dsnTemplate.hasPrefix("postgresql://") || dsnTemplate.hasPrefix("postgres://")
        return .success(
            DatabaseSpec(
                name: name,
                tier: tier,
                dsn: Self.fill(dsnTemplate, row, quoting: isURI ? .uri : .conninfo),
                passwordFile: layer.passwordFile ?? passwordFile,
                schema: layer.schema.map { Self.fill($0, row, quoting: .none) },
                labels: (layer.labels ?? [:]).mapValues { Self.fill($0, row, quoting: .none) },
                window: window,
                settings: layer.settings,
                location: location
            ))
    }

    enum Quoting { case none, conninfo, uri }

    /// Replaces `{column}`; values are quoted for the place they go, so a database
    /// name cannot inject conninfo keywords.
    static func fill(_ template: String, _ row: [String: String], quoting: Quoting) -> String {
        var result = template
        for (column, value) in row {
            result = result.replacingOccurrences(of: "{\(column)}", with: quote(value, quoting))
        }
        return result
    }

    static func quote(_ value: String, _ quoting: Quoting) -> String {
        let plain = value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }
        switch quoting {
        case .none: return value
        case _ where plain: return value
        case .conninfo: return "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        case .uri: return value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
        }
    }
}

public enum DiscoveryError: Error, Sendable, Equatable, CustomStringConvertible {
    case noNameColumn
    case badName(String)
    case missing(String, String)

    public var description: String {
        switch self {
        case .noNameColumn: "the discover query returned a row without a 'name' column (use SELECT ... AS name)"
        case .badName(let name): "discovered name '\(name)' may only hold letters, digits, '_', '-' and '.'"
        case .missing(let key, let name): "discovered database \(name) has no \(key) (set it in the template or in defaults)"
        }
    }
}
