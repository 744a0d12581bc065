/// Problems reading Veloquent's metadata. Each names the file and the collection or column at fault.
public enum ModelError: VeloFailure, Equatable {
    public var kind: ErrorKind {
        if case .notVeloquent = self { return .notVeloquent }
        return .input
    }

    /// The file has neither a `collections` table nor a landlord `tenants` table.
    case notVeloquent(path: String, reason: String)
    /// A `collections` row whose JSON column cannot be read.
    case badCollectionRow(path: String, collection: String, column: String, reason: String)
    case badField(String)
    case badIndex(String)

    public var description: String {
        switch self {
        case .notVeloquent(let path, let reason):
            return "\(path): not a Veloquent database (\(reason))"
        case .badCollectionRow(let path, let collection, let column, let reason):
            return "\(path): collections row '\(collection)', column \(column): \(reason)"
        case .badField(let reason), .badIndex(let reason):
            return reason
        }
    }
}
