import DroverPostgres

extension Fleet {
    /// Gives freed memory back to the kernel when `heapTrim` says so, on a libpq
    /// thread (the walk over the arenas takes milliseconds).
    func trimHeapDue() {
        guard heapTrim.trimDue(at: .now, busy: !running.isEmpty) else { return }
        #if DROVER_TEST_HOOKS
        heapTrims += 1
        #endif
        Task { try? await PostgresThreadPool.shared.runIfActive { Heap.trim() } }
    }
}
