/// A growable byte buffer for the data path: appends without the uniqueness checks and reference counting of
/// `[UInt8]`, so encoding a row costs little more than copying its bytes. One owner; freed on deinit.
package final class ByteBuffer {
    @exclusivity(unchecked) package private(set) var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) package private(set) var count = 0
    @exclusivity(unchecked) package private(set) var capacity: Int

    package init(capacity: Int = 64 * 1024) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    package func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    package func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    package func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    package func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Appends without checking capacity; the caller reserved room.
    @inline(__always)
    func appendUnchecked(_ byte: UInt8) {
        base[count] = byte
        count += 1
    }

    /// Counts `n` bytes the caller wrote directly into reserved room after `count`.
    @inline(__always)
    package func truncateForward(by n: Int) { count += n }

    /// Drops everything after the first `newCount` bytes.
    package func truncate(to newCount: Int) {
        precondition(newCount <= count)
        count = newCount
    }

    package func removeAll() { count = 0 }

    /// The bytes written so far, valid until the next change.
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
