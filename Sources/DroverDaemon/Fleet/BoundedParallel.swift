/// Runs `body` for each element, at most `parallelism` at a time, and returns the
/// results in the order they finish. The observer and the fingerprint reads use it
/// so that a fleet's servers never see a thundering herd of connections.
func mapBounded<Element: Sendable, Output: Sendable>(
    _ elements: [Element], parallelism: Int, _ body: @escaping @Sendable (Element) async -> Output
) async -> [Output] {
    await withTaskGroup(of: Output.self) { group in
        var all: [Output] = []
        var inFlight = 0
        for element in elements {
            if inFlight >= parallelism, let result = await group.next() {
                all.append(result)
                inFlight -= 1
            }
            inFlight += 1
            group.addTask { await body(element) }
        }
        for await result in group { all.append(result) }
        return all
    }
}
