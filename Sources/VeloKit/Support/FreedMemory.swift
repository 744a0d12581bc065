#if canImport(Glibc)
import Glibc
#endif

/// How a long streaming run hands freed memory back to the system.
package enum FreedMemory {
    /// Makes glibc return freed memory at the top of its heaps once 128 KiB are free (instead of the default,
    /// which grows with the largest block freed, up to 64 MiB) for the rest of the process. A backup's threads
    /// allocate and free frames of a megabyte each: with the default, a backup of a million-post table whose every
    /// row changed peaked at 80 MB while it used 62 (measured with `MALLOC_TRIM_THRESHOLD_`, which this sets).
    /// For `velo backup` only: readers that allocate a frame at a time got slower with it (verify 2x), backups did
    /// not. No effect where the C library is not glibc.
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
