import Foundation

/// The windows of objects this process read lately (ranged GETs of `S3ObjectReader.readAhead` bytes), shared by
/// every reader of the storage, with the objects' sizes. A pack is opened again for each table a snapshot reads
/// (and by each of verify's and restore's frame readers), and its tables' frames are interleaved: without a
/// shared memory of what was read, each opening read the pack's start again and each jump read a window again
/// (verify read a 12 MB pack as 45 MB in 40 requests). A read may be served by two adjacent windows (a frame
/// that crosses a window's end). Windows being read ahead (`S3ObjectReader`) are tracked, so that a reader who
/// needs one waits for it instead of asking for the same bytes again. Objects read through it (archives,
/// packs) are immutable under their names; a name written or removed by this process is forgotten all the same.
/// Holds at most `capacity` windows (8 MiB: a reader's current window and the two read ahead of it, for two
/// readers at once; `velo restore` on a bucket stays within its 96 MiB as on a folder).
final class ReadWindows: @unchecked Sendable {
    static let capacity = 8
    private let condition = NSCondition()
    /// The most recently used last.
    private var windows: [(name: StoredName, start: Int64, bytes: [UInt8])] = []
    private var sizes: [StoredName: Int64] = [:]
    /// Windows being read ahead: their name and start.
    private var pending: [(name: StoredName, start: Int64)] = []

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// The size of `name` as a ranged read gave it, while a window of it is kept (an object no longer read
    /// lately is opened with a request again, which also tells that it still exists).
    func size(of name: StoredName) -> Int64? {
        locked { windows.contains { $0.name == name } ? sizes[name] : nil }
    }

    /// The kept window of `name` that holds `offset`, as its index.
    private func window(_ name: StoredName, holding offset: Int64) -> Int? {
        windows.lastIndex { $0.name == name && offset >= $0.start && offset < $0.start + Int64($0.bytes.count) }
    }

    /// Copies `count` bytes at `offset` of `name` into `destination` when kept windows hold them all (one, or
    /// adjacent ones). A window being read ahead that holds the first missing byte is waited for.
    func copy(_ name: StoredName, at offset: Int64, count: Int, into destination: UnsafeMutableRawPointer) -> Bool {
        locked {
            var done = 0
            while done < count {
                let at = offset + Int64(done)
                guard let hit = window(name, holding: at) else {
                    guard pending.contains(where: { $0.name == name && $0.start <= at && at < $0.start + Int64(S3ObjectReader.readAhead) })
                    else { return false }
                    condition.wait()
                    continue
                }
                let window = windows.remove(at: hit)
                windows.append(window)
                let start = Int(at - window.start)
                let take = min(count - done, window.bytes.count - start)
                window.bytes.withUnsafeBytes { (destination + done).copyMemory(from: $0.baseAddress! + start, byteCount: take) }
                done += take
            }
            return true
        }
    }

    /// Where the kept window of `name` that holds `offset` ends, nil when none does.
    func end(of name: StoredName, holding offset: Int64) -> Int64? {
        locked { window(name, holding: offset).map { windows[$0].start + Int64(windows[$0].bytes.count) } }
    }

    /// Claims the window of `name` at `start` for reading ahead: false when it is kept or being read already.
    func claim(_ name: StoredName, start: Int64) -> Bool {
        locked {
            guard window(name, holding: start) == nil, !pending.contains(where: { $0.name == name && $0.start == start }) else {
                return false
            }
            pending.append((name, start))
            return true
        }
    }

    /// Ends a claim whose read failed (readers waiting for it read the bytes themselves).
    func abandon(_ name: StoredName, start: Int64) {
        locked {
            pending.removeAll { $0.name == name && $0.start == start }
            condition.broadcast()
        }
    }

    /// Keeps a window read from `name` (of `size` bytes), dropping the least recently used beyond `capacity`.
    func keep(_ name: StoredName, start: Int64, bytes: [UInt8], size: Int64, claimed: Bool = false) {
        locked {
            let stillClaimed = pending.contains { $0.name == name && $0.start == start }
            pending.removeAll { $0.name == name && $0.start == start }
            condition.broadcast()
            // A read ahead whose object was forgotten meanwhile (written or removed) is dropped.
            guard !bytes.isEmpty, !claimed || stillClaimed else { return }
            sizes[name] = size
            windows.removeAll { $0.name == name && $0.start == start }
            if windows.count >= Self.capacity { windows.removeFirst() }
            windows.append((name, start, bytes))
            sizes = sizes.filter { entry in windows.contains { $0.name == entry.key } }
        }
    }

    /// Forgets `name` (written or removed by this process).
    func forget(_ name: StoredName) {
        locked {
            sizes[name] = nil
            windows.removeAll { $0.name == name }
            pending.removeAll { $0.name == name }
            condition.broadcast()
        }
    }
}
