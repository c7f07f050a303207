/// The result of one statement, in libpq's text format.
public struct QueryResult: Sendable {
    public var columns: [String]
    public var rows: [[String?]]
    /// The command tag, e.g. `UPDATE 250` or `CREATE TABLE`.
    public var commandTag: String
    /// Rows affected (`PQcmdTuples`), for INSERT/UPDATE/DELETE/SELECT/MOVE/COPY.
    public var affectedRows: Int?

    public init(columns: [String] = [], rows: [[String?]] = [], commandTag: String = "", affectedRows: Int? = nil) {
        self.columns = columns
        self.rows = rows
        self.commandTag = commandTag
        self.affectedRows = affectedRows
    }

    /// The first column of the first row, the common case for scalar queries.
    public var scalar: String? { rows.first?.first ?? nil }

    /// Rows as dictionaries keyed by column name.
    public var records: [[String: String?]] {
        rows.map { row in Dictionary(uniqueKeysWithValues: zip(columns, row)) }
    }
}
