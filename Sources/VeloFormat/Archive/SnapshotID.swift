/// Snapshot ids: 16 lowercase hex digits (64 random bits). People name snapshots by a unique prefix.
package enum SnapshotID {
    package static func random<G: RandomNumberGenerator>(using generator: inout G) -> String {
        let value = generator.next()
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The 8-digit short form shown in listings.
    package static func short(_ id: String) -> String { String(id.prefix(8)) }

    /// Whether `text` has the form of an id.
    package static func isValid(_ text: String) -> Bool {
        text.utf8.count == 16
            && text.utf8.allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            }
    }
}
