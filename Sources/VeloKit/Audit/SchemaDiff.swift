import VeloFormat
import VeloRepository
import VeloStorage

/// How the collection definitions differ between two snapshots (fields matched by their id, as Veloquent's
/// own schema diff does, falling back to the name for fields without one).
package struct CollectionChange: Encodable, Sendable, Equatable {
    package struct FieldChange: Encodable, Sendable, Equatable {
        package var field: String
        /// What differs, e.g. `type text -> longtext`, `renamed from title`, `nullable false -> true`.
        package var changes: [String]
    }

    package var name: String
    /// `added`, `removed`, `changed` or `unchanged`.
    package var change: String
    package var fieldsAdded: [String] = []
    package var fieldsRemoved: [String] = []
    package var fieldsChanged: [FieldChange] = []
    package var indexesAdded: [String] = []
    package var indexesRemoved: [String] = []
    package var otherChanges: [String] = []

    /// Compares the collections of two snapshots by name.
    package static func compare(_ a: [CollectionMetadata], _ b: [CollectionMetadata]) -> [CollectionChange] {
        let before = Dictionary(a.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        let after = Dictionary(b.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        var result: [CollectionChange] = []
        for name in Set(before.keys).union(after.keys).sorted() {
            switch (before[name], after[name]) {
            case (nil, .some): result.append(CollectionChange(name: name, change: "added"))
            case (.some, nil): result.append(CollectionChange(name: name, change: "removed"))
            case (let x?, let y?): result.append(compare(x, y))
            default: break
            }
        }
        return result
    }

    static func compare(_ x: CollectionMetadata, _ y: CollectionMetadata) -> CollectionChange {
        var change = CollectionChange(name: y.name, change: "unchanged")
        func identity(_ f: Field) -> String { f.id.map { "id:" + $0 } ?? "name:" + f.name }
        let oldFields = Dictionary(x.fields.map { (identity($0), $0) }, uniquingKeysWith: { a, _ in a })
        let newFields = Dictionary(y.fields.map { (identity($0), $0) }, uniquingKeysWith: { a, _ in a })
        for f in y.fields where oldFields[identity(f)] == nil { change.fieldsAdded.append(f.name) }
        for f in x.fields where newFields[identity(f)] == nil { change.fieldsRemoved.append(f.name) }
        for f in y.fields {
            guard let old = oldFields[identity(f)] else { continue }
            var differences: [String] = []
            if old.name != f.name { differences.append("renamed from \(old.name)") }
            if old.type != f.type { differences.append("type \(old.type.name) -> \(f.type.name)") }
            if old.nullable != f.nullable { differences.append("nullable \(old.nullable) -> \(f.nullable)") }
            if old.unique != f.unique { differences.append("unique \(old.unique) -> \(f.unique)") }
            if old.defaultValue != f.defaultValue {
                differences.append(
                    "default \(old.defaultValue.map { JSONWriter.string($0) } ?? "none") -> \(f.defaultValue.map { JSONWriter.string($0) } ?? "none")"
                )
            }
            if old.targetCollectionID != f.targetCollectionID {
                differences.append("target \(old.targetCollectionID ?? "none") -> \(f.targetCollectionID ?? "none")")
            }
            if differences.isEmpty && old.raw != f.raw { differences.append("options changed") }
            if !differences.isEmpty { change.fieldsChanged.append(FieldChange(field: f.name, changes: differences)) }
        }
        let oldIndexes = Set(x.managedIndexNames), newIndexes = Set(y.managedIndexNames)
        change.indexesAdded = newIndexes.subtracting(oldIndexes).sorted()
        change.indexesRemoved = oldIndexes.subtracting(newIndexes).sorted()
        if x.tableName != y.tableName { change.otherChanges.append("table \(x.tableName) -> \(y.tableName)") }
        if x.id != y.id { change.otherChanges.append("id \(x.id) -> \(y.id)") }
        if x.apiRules != y.apiRules { change.otherChanges.append("api rules changed") }
        if x.options != y.options { change.otherChanges.append("options changed") }
        if !(change.fieldsAdded.isEmpty && change.fieldsRemoved.isEmpty && change.fieldsChanged.isEmpty
            && change.indexesAdded.isEmpty && change.indexesRemoved.isEmpty && change.otherChanges.isEmpty)
        {
            change.change = "changed"
        }
        return change
    }
}
