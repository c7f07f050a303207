import Foundation

/// An aligned text table for people: a header row and columns padded to their
/// widest cell. Colour codes do not count towards the width.
struct Table {
    enum Colour: String {
        case red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36", dim = "2"
    }

    struct Cell {
        var text: String
        var colour: Colour?
    }

    let headers: [String]
    private var rows: [[Cell]] = []

    init(_ headers: String...) { self.headers = headers }

    mutating func add(_ cells: [Cell]) { rows.append(cells) }
    mutating func add(_ texts: String...) { rows.append(texts.map { Cell(text: $0) }) }

    func render(colour: Bool = Output.colour) -> String {
        let all = [headers.map { Cell(text: $0) }] + rows
        var widths = [Int](repeating: 0, count: headers.count)
        for row in all { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.text.count) } }
        return all.map { row in
            row.enumerated().map { index, cell in
                let last = index == row.count - 1
                let padded = last ? cell.text : cell.text.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                guard colour, let code = cell.colour else { return padded }
                // Colour the text, not the padding.
                return "\u{1B}[\(code.rawValue)m\(cell.text)\u{1B}[0m" + String(repeating: " ", count: padded.count - cell.text.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

extension Table.Cell: ExpressibleByStringLiteral {
    init(stringLiteral value: String) { self.init(text: value) }
}
