#if canImport(Glibc)
import Glibc

/// glibc's `mallopt` (`<malloc.h>`, which the Glibc module does not export).
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
/// `<malloc.h>`'s `M_MMAP_THRESHOLD`.
private let mmapThreshold: Int32 = -3
#endif

/// How velo's process gives memory back. glibc serves a large allocation (a 1 MiB window of an object read from a
/// bucket, a frame's buffer) from its own mapping and unmaps it when freed, but after the first such free it
/// raises that threshold to the freed size, and from then on keeps large buffers in its heap, where freed ones
/// are not returned: a restore from S3 peaked at 104 MiB instead of 86. Fixing the threshold at 256 KiB (which
/// also stops the raising) keeps the peak where velo's own buffers put it; the time measured was the same.
enum ProcessMemory {
    static let largeAllocation: Int32 = 256 << 10

    /// Called first thing in `main`.
    static func returnLargeBuffers() {
        #if canImport(Glibc)
        _ = mallopt(mmapThreshold, largeAllocation)
        #endif
    }
}
