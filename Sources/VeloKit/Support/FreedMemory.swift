#if canImport(Glibc)
import Glibc
#endif

/// How a long streaming run hands freed memory back to the system.
package enum FreedMemory {
    /// Makes glibc return freed memory at the top of its heaps once 128 KiB are free (instead of the default,
    /// which grows with the largest block freed, up to 64 MiB) for the rest of the process. A backup's threads
    /// allocate and free frames of a megabyte each: with the default, a backup of a million-post table whose every
    /// row changed (stored as delta frames) peaked at 77 to 82 MB, with this at 64 to 65 MB; a first backup of
    /// 250,000 posts at 49 instead of 53 MB, about 4% slower (5 interleaved runs). For `velo backup` only: a
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
