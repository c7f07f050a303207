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

/// A varlink reply as received: parameters, or an error with its parameters;
/// `continues` when more replies follow.
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

/// A reply to send, with typed parameters: encoded straight to JSON, so a status
/// of ten thousand rows is not first turned into a tree of `JSONValue`s.
public struct OutgoingReply<Parameters: Encodable & Sendable>: Encodable, Sendable {
    public var parameters: Parameters?
    public var error: String?
    public var continues: Bool?

    public init(parameters: Parameters?, error: String? = nil, continues: Bool? = nil) {
        self.parameters = parameters
        self.error = error
        self.continues = continues
    }
}

/// A reply as received, with typed parameters.
public struct TypedReply<Parameters: Decodable>: Decodable {
    public var parameters: Parameters
    public var continues: Bool?
}

public enum DecodedReply<Parameters: Decodable> {
    case reply(TypedReply<Parameters>)
    case error(VarlinkReply)
}

/// JSON for varlink messages: sorted keys, dates as ISO 8601 strings.
public enum VarlinkCodec {
    public enum Failure: Error, Sendable, Equatable {
        case notJSON(String)
    }

    public static func decodeCall(_ bytes: [UInt8]) throws(Failure) -> VarlinkCall {
        do {
            return try decoder.decode(VarlinkCall.self, from: Data(bytes))
        } catch {
            throw .notJSON("not a varlink call: \(error)")
        }
    }

    public static func decodeReply(_ bytes: [UInt8]) throws(Failure) -> VarlinkReply {
        do {
            return try decoder.decode(VarlinkReply.self, from: Data(bytes))
        } catch {
            throw .notJSON("not a varlink reply: \(error)")
        }
    }

    /// JSON with sorted keys and no NUL inside (JSON escapes it), ready to frame.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(value))
    }

    /// A reply decoded straight into typed parameters: a large reply (status of
    /// ten thousand databases) is parsed once, not first into a `JSONValue` tree.
    /// An error reply comes back as `.error` with its parameters.
    public static func decodeReply<P: Decodable>(_ bytes: [UInt8], as type: P.Type) throws -> DecodedReply<P> {
        let data = Data(bytes)
        let envelope = try decoder.decode(ErrorEnvelope.self, from: data)
        if envelope.error != nil { return .error(try decoder.decode(VarlinkReply.self, from: data)) }
        return .reply(try decoder.decode(TypedReply<P>.self, from: data))
    }

    private struct ErrorEnvelope: Decodable { var error: String? }

    /// Typed parameters from a call's or reply's `JSONValue`.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue?) throws -> T {
        try decoder.decode(type, from: Data(try encode(value ?? .object([:]))))
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
