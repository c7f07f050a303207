import Testing

@testable import DroverCore

@Suite("Trimming manifest and revision text")
struct TrimmingTests {
    @Test("leading and trailing whitespace goes, inner whitespace and marks stay")
    func trims() {
        let cases: [(String, String)] = [
            ("", ""), ("   ", ""), ("\n\t ", ""), ("x", "x"), ("  host=db  port=5432 \n", "host=db  port=5432"),
            ("\u{00A0}é\u{301} ", "é\u{301}"), ("a\r\n", "a"), (" 1s", "1s"),
        ]
        for (text, trimmed) in cases {
            #expect(text.trimmingWhitespace() == trimmed, "\(text.debugDescription)")
            #expect(text[...].trimmingWhitespace() == trimmed, "\(text.debugDescription) as a slice")
        }
    }
}
