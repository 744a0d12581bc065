/// Where a tenant's uploaded files go in an archive: `files/<path relative to the tenant's storage disk>`, each
/// component percent-encoded outside `[A-Za-z0-9_.-]` so every entry keeps the format's safe path alphabet
/// (docs/FORMAT.md, "Uploaded files"). Decoding refuses anything that could leave the folder it is restored to.
extension ArchiveFormat {
    /// The folder of uploaded files in an archive.
    public static let filesPrefix = "files/"
    /// The largest uploaded file an archive may hold. Files are streamed in both directions, never held in
    /// memory, so this bounds time (a claimed size that is a lie), not memory.
    public static let maxFileEntryBytes: Int64 = 64 << 30

    /// Whether an entry is an uploaded file (as opposed to the header, the schema, a part or the manifest).
    package static func isFileEntry(_ path: String) -> Bool { path.hasPrefix(filesPrefix) }

    /// Whether an entry holds rows (newline-delimited JSON), which readers split and count.
    package static func isRowsEntry(_ path: String) -> Bool { path.hasSuffix(".ndjson") && !isFileEntry(path) }

    /// The entry path of a file at `relative` (`uploads/collections/posts/a b.png` →
    /// `files/uploads/collections/posts/a%20b.png`), or nil when `relative` is not a plain relative path.
    package static func fileEntryPath(relative: String) -> String? {
        let components = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !components.isEmpty, components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.utf8.contains(0) }) else {
            return nil
        }
        let hex = Array("0123456789ABCDEF")
        var out = filesPrefix
        for (i, component) in components.enumerated() {
            if i > 0 { out.append("/") }
            for byte in component.utf8 {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                    out.append(Character(Unicode.Scalar(byte)))
                default:
                    out.append("%")
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xF)])
                }
            }
        }
        return out
    }

    /// The relative path a file entry restores to, or nil when the entry is not a file entry, is not
    /// well-formed percent-encoding, or would decode to an absolute path, an empty, `.` or `..` component, a
    /// slash inside a component, a NUL, or bytes that are not UTF-8.
    package static func fileRelativePath(entry: String) -> String? {
        guard entry.hasPrefix(filesPrefix) else { return nil }
        let encoded = entry.dropFirst(filesPrefix.count)
        var components: [String] = []
        for part in encoded.split(separator: "/", omittingEmptySubsequences: false) {
            var bytes: [UInt8] = []
            var iterator = Array(part.utf8).makeIterator()
            while let byte = iterator.next() {
                if byte == UInt8(ascii: "%") {
                    guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                    bytes.append(high << 4 | low)
                } else {
                    bytes.append(byte)
                }
            }
            guard !bytes.isEmpty, bytes != [0x2E], bytes != [0x2E, 0x2E], !bytes.contains(0), !bytes.contains(UInt8(ascii: "/")),
                let text = String(validating: bytes, as: UTF8.self)
            else { return nil }
            components.append(text)
        }
        guard !components.isEmpty else { return nil }
        return components.joined(separator: "/")
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
