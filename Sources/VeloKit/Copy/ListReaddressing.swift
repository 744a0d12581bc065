import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Segment lists copied between repositories that name them with different keys (an unencrypted repository into
/// an encrypted one, or two encrypted ones): a list's name is its content address, keyed in an encrypted
/// repository (`RepositoryStorage.contentAddress`), so each list is stored under the destination's name for it,
/// a patch with its base's new name written into it, and the archive's `segments.json` is written anew with the
/// new names. Packs keep their names (they are random) and their frames, whose checksums are of their bytes; the
/// rows, parts and manifest are unchanged, so a copied snapshot verifies as its original does.
struct ListReaddressing {
    let source: PieceStore
    let destination: any RepositoryStorage
    /// Source name → destination name, for every list this copy has handled (snapshots share lists).
    private(set) var names: [String: String] = [:]

    init(source: PieceStore, destination: any RepositoryStorage) {
        self.source = source
        self.destination = destination
    }

    /// Stores `lists` (source names) under their destination names unless there already (`present`); full lists
    /// before the patches that name them. Returns the objects and bytes stored and how many were there.
    mutating func copy(_ lists: [String], present: inout Set<String>) throws -> (objects: Int, bytes: Int64, shared: Int) {
        var pieces: [(name: String, bytes: [UInt8])] = []
        var seen = Set<String>()
        let lists = lists.filter { seen.insert($0).inserted }
        for name in lists where names[name] == nil { pieces.append((name, try source.listPiece(name))) }
        // Full lists first: a patch's base must have its new name before the patch is rewritten.
        pieces.sort { !SegmentListPatch.isPatch($0.bytes) && SegmentListPatch.isPatch($1.bytes) }
        var stored = (objects: 0, bytes: Int64(0), shared: lists.filter { names[$0] != nil }.count)
        for var piece in pieces {
            if SegmentListPatch.isPatch(piece.bytes) {
                let base = SHA256Digest.hex(Array(piece.bytes[4..<36]))
                guard let renamed = names[base], let raw = Self.bytes(hex: renamed) else {
                    throw VeloError(
                        "\(source.storage.describe(.list(piece.name))): its base \(base) is not among the snapshot's lists", kind: .damaged)
                }
                piece.bytes.replaceSubrange(4..<36, with: raw)
            }
            let name = destination.contentAddress(piece.bytes)
            names[piece.name] = name
            if present.contains(name) {
                stored.shared += 1
                continue
            }
            let compressed = try ZstdFrame.compress(piece.bytes, level: 3)
            if try destination.saveIfAbsent(.list(name), compressed) {
                stored.objects += 1
                stored.bytes += Int64(compressed.count)
            }
            present.insert(name)
        }
        return stored
    }

    /// `document` with every list and base under its destination name.
    func rewrite(_ document: SegmentsDocument) -> SegmentsDocument {
        var copy = document
        func rename(_ table: SegmentsDocument.Table) -> SegmentsDocument.Table {
            var table = table
            table.list = names[table.list] ?? table.list
            table.base = table.base.map { names[$0] ?? $0 }
            return table
        }
        copy.tables = document.tables.map(rename)
        copy.files = document.files.map(rename)
        return copy
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: 64, by: 2) {
            guard let high = JSONEscape.hexDigit(digits[i]), let low = JSONEscape.hexDigit(digits[i + 1]) else { return nil }
            out.append(UInt8(high << 4 | low))
        }
        return out
    }
}
