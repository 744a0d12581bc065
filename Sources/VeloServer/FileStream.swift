import Foundation
import Hummingbird
import NIOCore
import VeloKit

/// A file sent as a response body in 1 MiB pieces read off the event loop, between an optional prefix and
/// suffix (the envelope around an exported payload). Memory does not grow with the file. `onFinish` runs once
/// the last byte was written or the client went away (the export's temporary file is removed there).
enum FileStream {
    static let pieceBytes = 1 << 20

    /// The size of a file.
    static func size(of path: String) throws -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw APIError.service(ClientText.scrub("\(path): cannot stat: \(String(cString: strerror(errno)))"))
        }
        return Int64(st.st_size)
    }

    static func body(
        path: String, size: Int64, prefix: [UInt8] = [], suffix: [UInt8] = [], streams: ActiveStreams,
        onFinish: @escaping @Sendable () -> Void = {}
    ) throws -> ResponseBody {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw APIError.service("\(path): cannot open: \(String(cString: strerror(errno)))") }
        let handle = FileDescriptorBox(fd)
        let token = streams.begin()
        return ResponseBody(contentLength: prefix.count + Int(size) + suffix.count) { writer in
            defer { handle.close(); onFinish(); token.release() }
            if !prefix.isEmpty { try await writer.write(NIOCore.ByteBuffer(bytes: prefix)) }
            var remaining = size
            while remaining > 0 {
                let want = Int(min(Int64(pieceBytes), remaining))
                let piece: [UInt8] = try await BlockingWork.run { try handle.read(want) }
                guard !piece.isEmpty else { throw APIError.service("\(path): the file ended early") }
                try await writer.write(NIOCore.ByteBuffer(bytes: piece))
                remaining -= Int64(piece.count)
            }
            if !suffix.isEmpty { try await writer.write(NIOCore.ByteBuffer(bytes: suffix)) }
            try await writer.finish(nil)
        }
    }
}

extension FileStream {
    /// A stored object (a snapshot's archive in the repository's storage) sent as a response body, in 1 MiB
    /// ranges read off the event loop.
    static func body(object reader: any StoredObjectReader, streams: ActiveStreams) -> ResponseBody {
        let box = StoredObjectBox(reader)
        let token = streams.begin()
        let size = reader.size
        return ResponseBody(contentLength: Int(size)) { writer in
            defer { token.release() }
            var offset: Int64 = 0
            while offset < size {
                let want = Int(min(Int64(pieceBytes), size - offset))
                let at = offset
                let piece: [UInt8] = try await BlockingWork.run { try box.reader.read(at: at, count: want) }
                try await writer.write(NIOCore.ByteBuffer(bytes: piece))
                offset += Int64(piece.count)
            }
            try await writer.finish(nil)
        }
    }
}

/// A stored object's reader handed to the blocking pool one range at a time (never two at once).
final class StoredObjectBox: @unchecked Sendable {
    let reader: any StoredObjectReader
    init(_ reader: any StoredObjectReader) { self.reader = reader }
}

/// A file descriptor read from one piece at a time and closed once.
final class FileDescriptorBox: @unchecked Sendable {
    fileprivate let lock = NSLock()
    fileprivate var fd: Int32

    init(_ fd: Int32) { self.fd = fd }

    func read(_ count: Int) throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        var buffer = [UInt8](repeating: 0, count: count)
        while true {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw APIError.service("read failed: \(String(cString: strerror(errno)))") }
            buffer.removeSubrange(n...)
            return buffer
        }
    }

    func close() {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 { Foundation.close(fd); fd = -1 }
    }
}

extension FileDescriptorBox {
    /// Runs `body` with the open descriptor, under the box's lock.
    func withDescriptor<T>(_ body: (Int32) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(fd)
    }
}
