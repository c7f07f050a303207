import Foundation

/// SplitMix64: a seeded generator, so a failing input can be reproduced.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A seeded property-based fuzzer for drover's parsers: random text, and valid
/// inputs mutated (bytes flipped, lines dropped, duplicated, swapped, cut short,
/// tokens that matter to the grammar inserted). The test run uses a few thousand
/// inputs; `DROVER_FUZZ_ROUNDS` sets the count for the long run (docs/reliability.md).
public enum Fuzz {
    public static func rounds(default count: Int) -> Int {
        ProcessInfo.processInfo.environment["DROVER_FUZZ_ROUNDS"].flatMap { Int($0) } ?? count
    }

    /// What a run saw: how many inputs, and the slowest one (a hang shows here).
    public struct Report: Sendable, CustomStringConvertible {
        public var inputs = 0
        public var slowest: Duration = .zero
        public var slowestInput = ""
        public var description: String { "\(inputs) inputs, slowest \(slowest) for \(slowestInput.prefix(200).debugDescription)" }
    }

    /// Feeds `rounds` inputs to `body`: every fourth random text, the others a
    /// mutation of one of `seeds`.
    public static func run(seed: UInt64, rounds: Int, seeds: [String], tokens: [String], _ body: (String) -> Void) -> Report {
        var random = SeededGenerator(state: seed)
        var report = Report()
        let clock = ContinuousClock()
        for round in 0..<rounds {
            let text = round % 4 == 0 ? randomText(tokens: tokens, &random) : mutate(seeds[round % seeds.count], tokens: tokens, &random)
            let started = clock.now
            body(text)
            let took = clock.now - started
            report.inputs += 1
            if took > report.slowest {
                report.slowest = took
                report.slowestInput = text
            }
        }
        if rounds > 10_000 { print("fuzz seed \(seed): \(report)") }
        return report
    }

    public static func mutate(_ text: String, tokens: [String], _ random: inout SeededGenerator) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            guard !lines.isEmpty else { break }
            let index = Int.random(in: 0..<lines.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: lines.remove(at: index)
            case 1: lines.insert(lines[index], at: index)
            case 2:
                var scalars = Array(lines[index].unicodeScalars)
                if !scalars.isEmpty { scalars[Int.random(in: 0..<scalars.count, using: &random)] = Unicode.Scalar(UInt8.random(in: 1...127, using: &random)) }
                lines[index] = String(String.UnicodeScalarView(scalars))
            case 3:
                let cut = Int.random(in: 0...lines[index].count, using: &random)
                lines[index] = String(lines[index].prefix(cut))
            case 4:
                let position = Int.random(in: 0...lines[index].count, using: &random)
                let line = lines[index]
                lines[index] = String(line.prefix(position)) + tokens.randomElement(using: &random)! + String(line.dropFirst(position))
            default: lines.swapAt(index, Int.random(in: 0..<lines.count, using: &random))
            }
        }
        return lines.joined(separator: "\n")
    }

    public static func randomText(tokens: [String], _ random: inout SeededGenerator) -> String {
        let length = Int.random(in: 0...400, using: &random)
        var text = ""
        for _ in 0..<length {
            if Bool.random(using: &random) {
                text += tokens.randomElement(using: &random)!
            } else {
                text.unicodeScalars.append(Unicode.Scalar(UInt8.random(in: 0...127, using: &random)))
            }
        }
        return text
    }
}
