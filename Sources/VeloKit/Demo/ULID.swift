import VeloFormat
import VeloRepository
import VeloStorage

/// ULIDs as Veloquent stores them: 48 bits of milliseconds then 80 random bits, in Crockford base32.
/// Eloquent's `HasUlids` writes them lowercase; `Str::ulid()` (superusers, pivot rows) uppercase.
package enum ULID {
    static let upper: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    static let lower: [UInt8] = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    /// The 26 characters of a ULID made from a millisecond time and 80 bits of randomness (`high` 16, `low` 64).
    package static func string(milliseconds: UInt64, high: UInt16, low: UInt64, uppercase: Bool = false) -> String {
        var bytes = [UInt8](repeating: 0, count: 26)
        write(milliseconds: milliseconds, high: high, low: low, uppercase: uppercase, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the 26 characters into `out` (which must hold 26 bytes).
    package static func write(milliseconds: UInt64, high: UInt16, low: UInt64, uppercase: Bool, into out: inout [UInt8]) {
        let alphabet = uppercase ? upper : lower
        // 128 bits: time (48) | high (16) | low (64); 26 characters of 5 bits with 2 leading zero bits.
        let hi64 = (milliseconds & 0xFFFF_FFFF_FFFF) << 16 | UInt64(high)
        let lo64 = low
        for i in 0..<26 {
            let shift = 125 - 5 * i  // bit position of this character's lowest bit, counting from bit 0 of lo64
            var value: UInt64
            if shift >= 64 {
                value = hi64 >> UInt64(shift - 64)
            } else if shift + 5 <= 64 {
                value = lo64 >> UInt64(shift)
            } else {
                value = (lo64 >> UInt64(shift)) | (hi64 << UInt64(64 - shift))
            }
            out[i] = alphabet[Int(value & 0x1F)]
        }
    }

    /// True when `text` has the shape of a ULID (26 Crockford base32 characters, either case).
    package static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 26, bytes[0] <= UInt8(ascii: "7") else { return false }
        return bytes.allSatisfy { upper.contains($0) || lower.contains($0) }
    }
}
