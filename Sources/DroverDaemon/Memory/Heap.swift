import CProcess

/// glibc's allocator, the two calls droverd makes to it.
///
/// libpq results are built on the 32 threads of `PostgresThreadPool`, and glibc gives
/// each allocating thread an arena of its own, up to eight per core. What a rollout
/// frees stays in those arenas: with 10,000 tenants droverd's resident size grew by
/// about 20 MB with every revision rolled out while its live heap stayed under a
/// third of it (heaptrack; docs/benchmarks.md).
public enum Heap {
    /// At most `count` arenas. glibc fixes the limit when its ninth arena would be
    /// made, so this must run before many threads have allocated: first in `main`.
    public static func limitArenas(to count: Int) {
        _ = mallopt(M_ARENA_MAX, Int32(clamping: count))
    }

    /// Returns the free pages of every arena to the kernel. It walks every arena's
    /// free chunks (milliseconds with a large heap): not on the cooperative pool.
    static func trim() {
        _ = malloc_trim(0)
    }
}
