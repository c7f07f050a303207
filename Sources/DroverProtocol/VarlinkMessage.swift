import Foundation

/// A varlink call: `{"method": "io.drover.Fleet.Status", "parameters": {...}}`.
public struct VarlinkCall: Sendable, Codable, Equatable {
    public var method: String
    public var parameters: JSONValue?
    /// The client wants several replies (`Watch`).
    public var more: Bool?
    /// The client wants no reply.
    public var oneway: Bool?

    public init(method: String, parameters: JSONValue? = nil, more: Bool? = nil, oneway: Bool? = nil) {
        self.method = method
        self.parameters = parameters
        self.more = more
        self.oneway = oneway
    }

    /// `io.drover.Fleet` of `io.drover.Fleet.Status`.
    public var interface: String { String(method[..<(method.lastIndex(of: ".") ?? method.startIndex)]) }
    /// `Status` of `io.drover.Fleet.Status`.
    public var member: String { method.lastIndex(of: ".").map { String(method[method.index(after: $0)...]) } ?? method }
}

/// A varlink reply: parameters, or an error with its parameters; `continues` when
/// more replies follow.
public struct VarlinkReply: Sendable, Codable, Equatable {
    public var parameters: JSONValue?
    public var error: String?
    public var continues: Bool?

    public init(parameters: JSONValue? = nil, error: String? = nil, continues: Bool? = nil) {
        self.parameters = parameters
        self.error = error
        self.continues = continues
    }
}

public enum VarlinkCodec {
    public enum Failure: Error, Sendable, Equatable {
        case notJSON(String)
    }

    public static func decodeCall(_ bytes: [UInt8]) throws(Failure) -> VarlinkCall {
        do {
            return try JSONDecoder().decode(VarlinkCall.self, from: Data(bytes))
        } catch {
            throw .notJSON("not a varlink call: \(error)")
        }
    }

    public static func decodeReply(_ bytes: [UInt8]) throws(Failure) -> VarlinkReply {
        do {
            return try JSONDecoder().decode(VarlinkReply.self, from: Data(bytes))
        } catch {
            throw .notJSON("not a varlink reply: \(error)")
        }
    }

    /// JSON with sorted keys and no NUL inside (JSON escapes it), ready to frame.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
}

/// Any JSON value, for parameters whose shape depends on the method.
public enum JSONValue: Sendable, Codable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}
