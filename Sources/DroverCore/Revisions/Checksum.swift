import Crypto

/// Section checksums. The text is normalised first (line endings, trailing blanks,
/// leading/trailing empty lines) so that an editor's whitespace habits do not mark
/// a database as tampered; any change a server would see does.
public enum Checksum {
    public static func of(sectionBody body: String) -> String {
        let digest = SHA256.hash(data: Array(normalise(body).utf8))
        return digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// `-- drover:lint-ignore` lines say nothing to the server: adding one to an
    /// applied revision must not mark databases tampered.
    static func normalise(_ body: String) -> String {
        var lines = body.lines.filter { RevisionParser.directive(in: $0)?.name != "lint-ignore" }.map { line in
            var trimmed = Substring(line)
            while let last = trimmed.last, last.isWhitespace { trimmed.removeLast() }
            return trimmed
        }
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}
