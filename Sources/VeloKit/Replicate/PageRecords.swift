import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// A run of pages in page order, each once (an image, or the newest versions of the pages some frames wrote),
/// read one at a time: what compaction merges, so memory holds a page, never an image.
final class PageRecords {
    /// The next page's number, nil at the end; its bytes are in `page` until the next call.
    let next: () throws -> UInt32?
    let page: UnsafeMutableRawBufferPointer
    private let buffer: UnsafeMutableRawBufferPointer

    private init(next: @escaping () throws -> UInt32?, page: UnsafeMutableRawBufferPointer, buffer: UnsafeMutableRawBufferPointer) {
        self.next = next
        self.page = page
        self.buffer = buffer
    }

    deinit { buffer.deallocate() }

    /// The pages of `image`, read from its pack.
    static func image(_ image: ContinuousHistory.PackedImage, storage: any RepositoryStorage) throws -> PageRecords {
        let reader = try CaptureObjectReader(image.pack, storage: storage, bodies: image.bodies, range: image.image.range)
        let pageSize = image.image.pageSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 + pageSize, alignment: 8)
        var left = image.image.count
        var previous: UInt32 = 0
        return PageRecords(
            next: {
                guard left > 0 else { return nil }
                left -= 1
                var filled = 0
                try reader.read(Int64(4 + pageSize)) { part in
                    (buffer.baseAddress! + filled).copyMemory(from: part.baseAddress!, byteCount: part.count)
                    filled += part.count
                }
                let number = UInt32(buffer[0]) << 24 | UInt32(buffer[1]) << 16 | UInt32(buffer[2]) << 8 | UInt32(buffer[3])
                guard number > previous else {
                    throw VeloError(
                        "\(reader.place): its image's pages are not in order (page \(number) after \(previous))", kind: .damaged)
                }
                previous = number
                return number
            }, page: UnsafeMutableRawBufferPointer(rebasing: buffer[4...]), buffer: buffer)
    }

    /// The pages `slots` holds, one slot of `pageSize` bytes each at the index `slotOf` gives, in page order.
    static func sorted(_ slotOf: [UInt32: Int64], in slots: SpoolFile.Scratch, pageSize: Int) -> PageRecords {
        let numbers = slotOf.keys.sorted()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pageSize, alignment: 8)
        var index = 0
        return PageRecords(
            next: {
                guard index < numbers.count else { return nil }
                let number = numbers[index]
                index += 1
                let got = try slots.read(into: buffer, at: slotOf[number]! * Int64(pageSize))
                guard got == pageSize else { throw VeloError("\(slots.path): short read", kind: .io) }
                return number
            }, page: buffer, buffer: buffer)
    }

    /// Writes the pages of `older` and `newer` in page order into `spool`, `newer`'s where both have a page, and
    /// none past page `upTo` (the database's size: pages beyond it were cut off); returns how many.
    static func merge(older: PageRecords?, newer: PageRecords, upTo pages: UInt32, into spool: SpoolFile) throws -> Int {
        var count = 0
        var a = try older?.next()
        var b = try newer.next()
        while a != nil || b != nil {
            if let nb = b, a == nil || nb <= a! {
                if a == nb { a = try older?.next() }
                if nb <= pages {
                    try spool.append(page: nb, UnsafeRawBufferPointer(newer.page))
                    count += 1
                }
                b = try newer.next()
            } else if let na = a, let older {
                if na <= pages {
                    try spool.append(page: na, UnsafeRawBufferPointer(older.page))
                    count += 1
                }
                a = try older.next()
            }
        }
        if count > 0 { try spool.pack() }
        return count
    }
}
