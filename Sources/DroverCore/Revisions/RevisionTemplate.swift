import Foundation

/// The file `droverctl new` writes: a fresh id, the current head as parent, and
/// empty sections with a word on what belongs in each.
public enum RevisionTemplate {
    /// 12 hex digits, like Alembic's revision ids.
    public static func newID<G: RandomNumberGenerator>(using generator: inout G) -> String {
        (0..<6).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }

    /// `20261122T183700_add_new_field.sql`: sorts by creation time in a listing.
    public static func fileName(message: String, id: String, date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        var slug = String(message.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
        while slug.contains("__") { slug = slug.replacingOccurrences(of: "__", with: "_") }
        slug = String(slug.trimmingCharacters(in: CharacterSet(charactersIn: "_")).prefix(48))
        return "\(formatter.string(from: date))_\(slug.isEmpty ? id : slug).sql"
    }

    public static func render(id: String, parents: [String], message: String) -> String {
        let oneLine = message.replacingOccurrences(of: "\n", with: " ")
        return """
            -- drover:revision \(id)
            -- drover:parent \(parents.isEmpty ? "none" : parents.joined(separator: " "))
            -- drover:message \(oneLine)

            -- drover:expand
            -- Additive changes that code of the previous revision survives: new tables,
            -- nullable columns, columns with a DEFAULT. For CREATE INDEX CONCURRENTLY put
            -- '-- drover:no-transaction' as this section's first line.

            -- drover:backfill batch=1000 pause=0ms
            -- Optional: fill new columns in batches. Runs until a batch affects no row;
            -- :batch is replaced by the batch size, e.g.
            --   UPDATE t SET c = 'x' WHERE id IN (SELECT id FROM t WHERE c IS NULL LIMIT :batch);

            -- drover:contract
            -- Destructive or constraining changes, run only after `droverctl release` and
            -- inside the maintenance window: DROP COLUMN, constraints. Scans hold locks:
            -- NOT NULL without one is a '-- drover:no-transaction' section of
            --   ALTER TABLE t ADD CONSTRAINT t_c_nn CHECK (c IS NOT NULL) NOT VALID;
            --   ALTER TABLE t VALIDATE CONSTRAINT t_c_nn;
            --   ALTER TABLE t ALTER COLUMN c SET NOT NULL;
            --   ALTER TABLE t DROP CONSTRAINT t_c_nn;
            -- (droverctl check lints every section; docs/lint-rules.md).

            -- drover:revert
            -- Undoes expand; allowed only while contract has not run.

            """
    }
}
