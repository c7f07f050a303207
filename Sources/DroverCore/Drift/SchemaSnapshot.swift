import Crypto
import Foundation

/// The shape of a managed schema (docs/daemon.md): tables, columns with type, default and
/// nullability, indexes and constraints; no data. Two databases at the same revision
/// should have equal snapshots; `differences` says what differs when they do not.
public struct SchemaSnapshot: Sendable, Hashable, Codable {
    public struct Column: Sendable, Hashable, Codable {
        public var name: String
        public var type: String
        public var defaultValue: String?
        public var nullable: Bool

        public init(name: String, type: String, defaultValue: String?, nullable: Bool) {
            self.name = name
            self.type = type
            self.defaultValue = defaultValue
            self.nullable = nullable
        }
    }

    public struct Table: Sendable, Hashable, Codable {
        public var name: String
        public var columns: [Column]
        /// Index name → definition, constraint name → definition.
        public var indexes: [String: String]
        public var constraints: [String: String]

        public init(name: String, columns: [Column], indexes: [String: String], constraints: [String: String]) {
            self.name = name
            self.columns = columns
            self.indexes = indexes
            self.constraints = constraints
        }
    }

    public var tables: [String: Table]

    public init(tables: [String: Table]) { self.tables = tables }

    /// SHA-256 of a canonical text form: equal snapshots, equal digests.
    public var digest: String {
        var lines: [String] = []
        for table in tables.values.sorted(by: { $0.name < $1.name }) {
            lines.append("table \(table.name)")
            for column in table.columns {
                lines.append("column \(table.name).\(column.name) \(column.type) default=\(column.defaultValue ?? "-") nullable=\(column.nullable)")
            }
            for (name, definition) in table.indexes.sorted(by: { $0.key < $1.key }) { lines.append("index \(name) \(definition)") }
            for (name, definition) in table.constraints.sorted(by: { $0.key < $1.key }) { lines.append("constraint \(name) \(definition)") }
        }
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: SHA256.hash(data: Array(lines.joined(separator: "\n").utf8)).flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }, as: UTF8.self)
    }

    /// What `self` lacks or has differently compared with `reference`, in words an
    /// operator can act on ("index documents_status_idx missing").
    public func differences(from reference: SchemaSnapshot) -> [String] {
        var found: [String] = []
        for name in Set(reference.tables.keys).union(tables.keys).sorted() {
            guard let expected = reference.tables[name] else {
                found.append("table \(name) extra")
                continue
            }
            guard let actual = tables[name] else {
                found.append("table \(name) missing")
                continue
            }
            let actualColumns = Dictionary(actual.columns.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            let expectedColumns = Dictionary(expected.columns.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for column in expected.columns {
                guard let other = actualColumns[column.name] else {
                    found.append("column \(name).\(column.name) missing")
                    continue
                }
                if other.type != column.type { found.append("column \(name).\(column.name) is \(other.type), expected \(column.type)") }
                if other.nullable != column.nullable {
                    found.append(
                        "column \(name).\(column.name) is \(other.nullable ? "nullable" : "NOT NULL"), expected \(column.nullable ? "nullable" : "NOT NULL")")
                }
                if other.defaultValue != column.defaultValue {
                    found.append("column \(name).\(column.name) default is \(other.defaultValue ?? "none"), expected \(column.defaultValue ?? "none")")
                }
            }
            for column in actual.columns where expectedColumns[column.name] == nil { found.append("column \(name).\(column.name) extra") }
            // Same columns, another order: `SELECT *` and `INSERT` without a column
            // list see a different table.
            let expectedOrder = expected.columns.map(\.name).filter { actualColumns[$0] != nil }
            let actualOrder = actual.columns.map(\.name).filter { expectedColumns[$0] != nil }
            if expectedOrder != actualOrder {
                found.append("columns of \(name) are in the order \(actualOrder.joined(separator: ", ")), expected \(expectedOrder.joined(separator: ", "))")
            }
            found += compare(expected.indexes, actual.indexes, kind: "index")
            found += compare(expected.constraints, actual.constraints, kind: "constraint")
        }
        if found.isEmpty && digest != reference.digest {
            found.append("the schema differs in a way drover has no words for (fingerprint \(digest.prefix(12)), expected \(reference.digest.prefix(12)))")
        }
        return found
    }

    private func compare(_ expected: [String: String], _ actual: [String: String], kind: String) -> [String] {
        var found: [String] = []
        for (name, definition) in expected.sorted(by: { $0.key < $1.key }) {
            if let other = actual[name] {
                if other != definition { found.append("\(kind) \(name) differs: \(other), expected \(definition)") }
            } else {
                found.append("\(kind) \(name) missing")
            }
        }
        for name in actual.keys.sorted() where expected[name] == nil { found.append("\(kind) \(name) extra") }
        return found
    }
}
