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
        let lengths = all.map { row in row.map(\.text.count) }
        var widths = [Int](repeating: 0, count: headers.count)
        for row in lengths { for (index, length) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], length) } }
        var output = ""
        for (rowIndex, row) in all.enumerated() {
            if rowIndex > 0 { output += "\n" }
            for (index, cell) in row.enumerated() {
                if index > 0 { output += "  " }
                // Colour the text, not the padding; the last column is not padded.
                if colour, let code = cell.colour { output += "\u{1B}[\(code.rawValue)m\(cell.text)\u{1B}[0m" } else { output += cell.text }
                if index < row.count - 1 && index < widths.count { output += String(repeating: " ", count: widths[index] - lengths[rowIndex][index]) }
            }
        }
        return output
    }
}

extension Table.Cell: ExpressibleByStringLiteral {
    init(stringLiteral value: String) { self.init(text: value) }
}
