import NIOPosix

/// The dedicated threads every libpq call runs on. libpq blocks, and the Swift
/// cooperative pool has one thread per core, so a single slow statement there would
/// stall the whole process. The pool is shared by all connections: drover never
/// keeps a thread per database.
public enum PostgresThreadPool {
    /// Sized for the daemon's concurrency limits; `DROVER_PG_THREADS` overrides.
    public static let shared: NIOThreadPool = {
        let configured = Int(ProcessEnvironment.value("DROVER_PG_THREADS") ?? "") ?? 32
        let pool = NIOThreadPool(numberOfThreads: max(configured, 2))
        pool.start()
        return pool
    }()
}

enum ProcessEnvironment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
