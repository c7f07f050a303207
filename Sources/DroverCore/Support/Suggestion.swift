/// "Did you mean ...?" for unknown keys, directives, rule codes and names.
public enum Suggestion {
    /// The candidate closest to `word` by edit distance, if it is close enough to be
    /// a plausible typo.
    public static func nearest(to word: String, in candidates: some Collection<String>) -> String? {
        let lowered = word.lowercased()
        // A known word inside the typo ("batchsize" → "batch") is the likeliest meaning.
        if let contained = candidates.filter({ lowered.hasPrefix($0.lowercased()) || $0.lowercased().hasPrefix(lowered) }).max(by: { $0.count < $1.count }),
            contained.count >= 3
        {
            return contained
        }
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate.lowercased())
            if distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        guard let best else { return nil }
        let limit = max(2, lowered.count / 3)
        return best.distance <= limit ? best.candidate : nil
    }

    static func didYouMean(_ word: String, in candidates: some Collection<String>) -> String {
        nearest(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// Levenshtein distance.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
