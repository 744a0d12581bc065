import Foundation

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Payload files, fresh Veloquent databases and imports for the transfer tests.
enum TransferFixtures {
    /// Writes `value` as a payload file in `dir`.
    static func write(_ value: JSONValue, in dir: URL, name: String = "payload.json") throws -> String {
        try write(JSONWriter.string(value), in: dir, name: name)
    }

    static func write(_ text: String, in dir: URL, name: String = "payload.json") throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// An empty Veloquent database (a fresh installation).
    static func emptyTenant(in dir: URL, name: String = "tenant.sqlite") throws -> String {
        let path = dir.appendingPathComponent(name).path
        try FreshTenant.create(at: path)
        return path
    }

    /// Imports without a safety snapshot.
    @discardableResult
    static func importPayload(
        _ payload: String, into target: String, conflict: RestorePlan.Strategy? = nil, dryRun: Bool = false,
        maxStringBytes: Int = PayloadReader.defaultMaxStringBytes,
        beforeRow: ((String, Int) throws -> Void)? = nil
    ) throws -> TransferImport.Outcome {
        var options = TransferImport.Options()
        options.conflict = conflict
        options.dryRun = dryRun
        options.safetySnapshot = false
        options.maxStringBytes = maxStringBytes
        return try TransferImport.run(payload: payload, target: target, options: options, repository: nil, beforeRow: beforeRow)
    }

    /// A payload with only metadata.
    static func metadataPayload(_ collections: [JSONValue]) -> JSONValue {
        .object([("version", .int(1)), ("metadata", .object([("collections", .array(collections))]))])
    }

    /// A metadata entry as Veloquent's tests write them.
    static func collection(
        _ name: String, type: String = "base", id: String? = nil, system: Bool = false,
        fields: [JSONValue] = [], rules: JSONValue? = nil, indexes: [JSONValue] = []
    ) -> JSONValue {
        var pairs: [(String, JSONValue)] = []
        if let id { pairs.append(("id", .string(id))) }
        pairs += [("name", .string(name)), ("type", .string(type)), ("is_system", .bool(system)), ("fields", .array(fields))]
        if let rules { pairs.append(("api_rules", rules)) }
        pairs.append(("indexes", .array(indexes)))
        return .object(pairs)
    }

    static func field(_ name: String, _ type: String, _ extra: [(String, JSONValue)] = []) -> JSONValue {
        .object([("name", .string(name)), ("type", .string(type))] + extra)
    }

    static func rules(_ rule: String, manage: Bool = false) -> JSONValue {
        .object(["list", "create", "view", "update", "delete"].map { ($0, .string(rule)) } + (manage ? [("manage", .string(rule))] : []))
    }

    /// Creates collections in `db` through the import (Veloquent's create pipeline).
    static func create(_ collections: [JSONValue], in db: String, dir: URL) throws {
        let path = try write(metadataPayload(collections), in: dir, name: "create-\(UUID().uuidString.prefix(6)).json")
        let outcome = try importPayload(path, into: db)
        precondition(outcome.committed, "\(outcome.result.findings.map(\.message))")
    }

    static func collections(_ db: String) throws -> [CollectionMetadata] {
        try TenantDatabase.load(try Database(path: db, mode: .readOnly)).collections
    }

    static func collection(_ name: String, in db: String) throws -> CollectionMetadata? {
        try collections(db).first { $0.name == name }
    }

    /// Exports `db` into a payload file and returns it parsed too.
    static func export(
        _ db: String, in dir: URL, collections: [String]? = nil, systemTables: [String] = [], records: Bool = true,
        name: String = "export.json"
    ) throws -> (path: String, json: JSONValue) {
        let path = dir.appendingPathComponent(name).path
        var options = PayloadExporter.Options()
        options.collections = collections
        options.systemTables = systemTables
        options.includeRecords = records
        let output = try PayloadOutput.file(path)
        _ = try TransferExport.fromDatabase(db, options: options, to: output)
        try output.finish()
        return (path, try JSONParser.parse(try FileSystem.read(path)))
    }

    static func bytes(_ path: String) -> Data { FileManager.default.contents(atPath: path) ?? Data() }
}
