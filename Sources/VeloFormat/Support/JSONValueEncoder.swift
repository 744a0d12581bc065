/// Turns an `Encodable` value into a `JSONValue`, keeping properties in declaration order (Foundation's
/// encoder on Linux does not), writing `nil` optionals as `null` so every report has a stable shape,
/// converting property names to snake_case, and sorting dictionary keys.
package struct JSONValueEncoder {
    package init() {}

    package func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try EncodingNode.encode(value, codingPath: [])
    }

    /// `fileBytes` → `file_bytes`, `archiveSHA256` → `archive_sha256` (a run of capitals is one word).
    package static func snakeCase(_ key: String) -> String {
        let chars = Array(key)
        var out = ""
        for (i, ch) in chars.enumerated() {
            if ch.isUppercase {
                let previous = i > 0 ? chars[i - 1] : nil
                let next = i + 1 < chars.count ? chars[i + 1] : nil
                let startsWord = previous.map { $0.isLowercase || $0.isNumber } ?? false
                let endsAcronym = (previous?.isUppercase ?? false) && (next?.isLowercase ?? false)
                if i > 0 && (startsWord || endsAcronym) { out.append("_") }
                out.append(contentsOf: ch.lowercased())
            } else {
                out.append(ch)
            }
        }
        return out
    }
}

/// Dictionaries with string keys are written with sorted, unconverted keys.
protocol StringKeyedDictionary {
    func encodedPairs(codingPath: [any CodingKey]) throws -> [(String, JSONValue)]
}

extension Dictionary: StringKeyedDictionary where Key == String, Value: Encodable {
    func encodedPairs(codingPath: [any CodingKey]) throws -> [(String, JSONValue)] {
        try keys.sorted().map { key in (key, try EncodingNode.encode(self[key]!, codingPath: codingPath)) }
    }
}

/// One value under construction.
final class EncodingNode {
    var value: JSONValue = .null
    var pairs: [(String, EncodingNode)]?
    var items: [EncodingNode]?

    var result: JSONValue {
        if let pairs { return .object(pairs.map { ($0.0, $0.1.result) }) }
        if let items { return .array(items.map(\.result)) }
        return value
    }

    static func encode<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> JSONValue {
        switch value {
        case let v as Double: return v.isFinite ? .double(v) : .string(String(v))
        case let v as Float: return Double(v).isFinite ? .double(Double(v)) : .string(String(v))
        case let v as String: return .string(v)
        case let v as Bool: return .bool(v)
        case let v as JSONValue: return v
        case let dictionary as StringKeyedDictionary: return .object(try dictionary.encodedPairs(codingPath: codingPath))
        default:
            let node = EncodingNode()
            try value.encode(to: NodeEncoder(node: node, codingPath: codingPath))
            return node.result
        }
    }
}

struct NodeEncoder: Encoder {
    let node: EncodingNode
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.pairs == nil { node.pairs = [] }
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if node.items == nil { node.items = [] }
        return UnkeyedNodeContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleNodeContainer(node: node, codingPath: codingPath)
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodingNode
    var codingPath: [any CodingKey]

    mutating func set(_ key: Key, _ value: JSONValue) {
        let child = EncodingNode()
        child.value = value
        node.pairs!.append((JSONValueEncoder.snakeCase(key.stringValue), child))
    }

    mutating func encodeNil(forKey key: Key) throws { set(key, .null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        set(key, try EncodingNode.encode(value, codingPath: codingPath + [key]))
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { set(key, .null) }
    }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { set(key, value.map { .string($0) } ?? .null) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { set(key, value.map { .int($0) } ?? .null) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { set(key, value.map { .int($0) } ?? .null) }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { set(key, value.map { .bool($0) } ?? .null) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { set(key, .null) }
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(key, .int(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(key, .int(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(key, .int(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(key, .int(value)) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let child = EncodingNode()
        child.pairs = []
        node.pairs!.append((JSONValueEncoder.snakeCase(key.stringValue), child))
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = EncodingNode()
        child.items = []
        node.pairs!.append((JSONValueEncoder.snakeCase(key.stringValue), child))
        return UnkeyedNodeContainer(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node, codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { NodeEncoder(node: node, codingPath: codingPath) }
}

struct UnkeyedNodeContainer: UnkeyedEncodingContainer {
    let node: EncodingNode
    var codingPath: [any CodingKey]
    var count: Int { node.items!.count }

    mutating func append(_ value: JSONValue) {
        let child = EncodingNode()
        child.value = value
        node.items!.append(child)
    }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { append(try EncodingNode.encode(value, codingPath: codingPath)) }
    mutating func encode(_ value: Int) throws { append(.int(value)) }
    mutating func encode(_ value: Int64) throws { append(.int(value)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = EncodingNode()
        child.pairs = []
        node.items!.append(child)
        return KeyedEncodingContainer(KeyedNodeContainer<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = EncodingNode()
        child.items = []
        node.items!.append(child)
        return UnkeyedNodeContainer(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node, codingPath: codingPath) }
}

struct SingleNodeContainer: SingleValueEncodingContainer {
    let node: EncodingNode
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { node.value = try EncodingNode.encode(value, codingPath: codingPath) }
    mutating func encode(_ value: Int) throws { node.value = .int(value) }
    mutating func encode(_ value: Int64) throws { node.value = .int(value) }
    mutating func encode(_ value: UInt64) throws { node.value = .int(value) }
    mutating func encode(_ value: Int32) throws { node.value = .int(value) }
}
