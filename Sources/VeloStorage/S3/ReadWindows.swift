import Foundation

/// The windows of objects this process read lately (ranged GETs of `S3ObjectReader.readAhead` bytes), shared by
/// every reader of the storage, with the objects' sizes. A pack is opened again for each table a snapshot reads
/// (and by each of verify's and restore's frame readers), and its tables' frames are interleaved: without a
/// shared memory of what was read, each opening read the pack's start again and each jump read a window again
/// (verify read a 12 MB pack as 45 MB in 40 requests). Objects read through it (archives, packs) are immutable
/// under their names; a name written or removed by this process is forgotten all the same.
/// Holds at most `capacity` windows (4 MiB: `velo restore` on a bucket stays within its 96 MiB like on a folder).
final class ReadWindows: @unchecked Sendable {
    static let capacity = 4
    private let lock = NSLock()
    /// The most recently used last.
    private var windows: [(name: StoredName, start: Int64, bytes: [UInt8])] = []
    private var sizes: [StoredName: Int64] = [:]

    /// The size of `name` as a ranged read gave it, while a window of it is kept (an object no longer read
    /// lately is opened with a request again, which also tells that it still exists).
    func size(of name: StoredName) -> Int64? {
        lock.withLock { windows.contains { $0.name == name } ? sizes[name] : nil }
    }

    /// Copies `count` bytes at `offset` of `name` into `destination` when a kept window holds them all.
    func copy(_ name: StoredName, at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) -> Bool {
        lock.withLock {
            guard
                let hit = windows.lastIndex(where: {
                    $0.name == name && offset >= $0.start && offset + Int64(count) <= $0.start + Int64($0.bytes.count)
                })
            else { return false }
            let window = windows.remove(at: hit)
            windows.append(window)
            let start = Int(offset - window.start)
            window.bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress! + start, byteCount: count) }
            return true
        }
    }

    /// Keeps a window read from `name` (of `size` bytes), dropping the least recently used beyond `capacity`.
    func keep(_ name: StoredName, start: Int64, bytes: [UInt8], size: Int64) {
        lock.withLock {
            guard !bytes.isEmpty else { return }
            sizes[name] = size
            windows.removeAll { $0.name == name && $0.start == start }
            if windows.count >= Self.capacity { windows.removeFirst() }
            windows.append((name, start, bytes))
            sizes = sizes.filter { entry in windows.contains { $0.name == entry.key } }
        }
    }

    /// Forgets `name` (written or removed by this process).
    func forget(_ name: StoredName) {
        lock.withLock {
            sizes[name] = nil
            windows.removeAll { $0.name == name }
        }
    }
}
