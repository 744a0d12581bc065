import Crypto

/// One entry of `collections.indexes`: `{"columns":[...],"type":"index"|"unique"}`.
package struct IndexSpec: Equatable, Hashable, Sendable {
    package enum Kind: String, Sendable, Codable {
        case index, unique
    }

    package var columns: [String]
    package var kind: Kind

    package init(columns: [String], kind: Kind) {
        self.columns = columns
        self.kind = kind
    }

    /// Reads one entry; an unknown type is an error, as in Veloquent (`IndexType::from`).
    package init(json: JSONValue) throws {
        guard case .object = json else { throw ModelError.badIndex("an index is a JSON \(json.typeName), not an object") }
        let typeName = json["type"]?.stringValue ?? "index"
        guard let kind = Kind(rawValue: typeName) else { throw ModelError.badIndex("unknown index type '\(typeName)'") }
        self.kind = kind
        columns = (json["columns"]?.arrayValue ?? []).compactMap(\.stringValue).filter { !$0.isEmpty }
    }

    /// The physical index name on `table` (see `IndexSpec.physicalName(table:columns:kind:)`).
    package func physicalName(table: String) -> String {
        IndexSpec.physicalName(table: table, columns: columns, kind: kind)
    }

    /// Veloquent's identity of an index: its sorted columns and its type (`Index::identityKey`).
    package var identity: String { columns.sorted().joined(separator: "|") + "|" + kind.rawValue }

    /// `<table>_<col1>_..._<type>`; when longer than 64 bytes, its first 55 bytes, `_`, and the first 8 hex
    /// digits of the md5 of the full name (`Index::generateIndexName`).
    package static func physicalName(table: String, columns: [String], kind: Kind) -> String {
        let base = ([table] + columns + [kind.rawValue]).joined(separator: "_")
        let bytes = Array(base.utf8)
        guard bytes.count > 64 else { return base }
        let hash = String(MD5Hex.of(base).prefix(8))
        let keep = 64 - hash.count - 1
        return String(decoding: bytes.prefix(keep), as: UTF8.self) + "_" + hash
    }
}

/// Lowercase hex md5, the digest Veloquent uses for long index and pivot names.
enum MD5Hex {
    static func of(_ text: String) -> String {
        Insecure.MD5.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
