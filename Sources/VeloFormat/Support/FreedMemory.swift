#if canImport(Glibc)
import Glibc
#endif

/// How a long streaming run hands freed memory back to the system.
package enum FreedMemory {
    /// Makes glibc return freed memory at the top of its heaps once 128 KiB are free (instead of the default,
    /// which grows with the largest block freed, up to 64 MiB) for the rest of the process. A backup's threads
    /// allocate and free frames of a megabyte each: with the default, a backup of a million-post table whose every
    /// row changed (stored as delta frames) peaked at 77 to 82 MB (GNU time's KiB / 1000), with this at 65.0 to
    /// 65.4 (63.5 to 63.9 MiB); a first backup of 250,000 posts at 48.8 instead of 53.3, about 5% slower (5
    /// interleaved runs, 0.89 s against 0.85 s). For `velo backup` only (not `velo run` rounds): a
    /// verify, which allocates a frame at a time, took twice as long with it. No effect where the C library is
    /// not glibc.
    package static func returnPromptly() {
        #if canImport(Glibc)
        // glibc's <malloc.h> is not in Swift's Glibc module: the function is looked up (absent elsewhere).
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        let trimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
        _ = mallopt(trimThreshold, 128 << 10)
        #endif
    }
}
