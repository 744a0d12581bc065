import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// Whole imports: the round trip, and the dry run as an exact prediction of the import.
@Suite struct TransferImportTests {
    typealias F = TransferFixtures

    /// A payload with collection ids replaced by names, the ids of reserved fields (new ones on every create,
    /// as in Veloquent) dropped, and `exported_at` dropped.
    func normalized(_ payload: JSONValue) -> JSONValue {
        var names: [String: String] = [:]
        for c in payload["metadata"]?["collections"]?.arrayValue ?? [] {
            if let id = c["id"]?.stringValue, let name = c["name"]?.stringValue { names[id] = "<\(name)>" }
        }
        func walk(_ v: JSONValue, reservedField: Bool = false) -> JSONValue {
            switch v {
            case .string(let s): return .string(names[s] ?? s)
            case .array(let a): return .array(a.map { walk($0) })
            case .object(let pairs):
                let reserved =
                    ["id", "created_at", "updated_at", "email", "password", "email_visibility", "verified"].contains(
                        v["name"]?.stringValue ?? "")
                    && v["type"] != nil && pairs.count == TransferPayload.fieldProperties.count
                return .object(pairs.filter { !($0.0 == "exported_at") && !(reserved && $0.0 == "id") }.map { ($0.0, walk($0.1)) })
            default: return v
            }
        }
        return walk(payload)
    }

    @Test func aDemoRoundTripsThroughAnEmptyVeloquentDatabase() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try Fixtures.demo(posts: 150)
        let first = try F.export(source, in: dir, systemTables: TransferPayload.allowedSystemTables, name: "first.json")
        let target = dir.appendingPathComponent("new.sqlite").path
        let outcome = try F.importPayload(first.path, into: target)
        #expect(outcome.committed && outcome.created, "\(outcome.result.findings.map(\.message))")
        #expect(outcome.result.metadata.map(\.action) == ["created", "created", "created", "skipped"])
        let second = try F.export(target, in: dir, systemTables: TransferPayload.allowedSystemTables, name: "second.json")
        #expect(normalized(first.json) == normalized(second.json))
        #expect(
            first.json["metadata"]?["collections"]?.arrayValue?.first?["id"]
                != second.json["metadata"]?["collections"]?.arrayValue?.first?["id"])
        // Importing the same payload again skips every row.
        let again = try F.importPayload(first.path, into: target)
        #expect(again.committed)
        for r in again.result.records where r.table != "collections" {
            #expect(r.counts.inserted == 0 && r.counts.updated == 0, "\(r.table)")
        }
    }

    /// Copies `path` (when it exists) to a new name.
    func copy(_ path: String, to name: String, in dir: URL) throws -> String {
        let out = dir.appendingPathComponent(name).path
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.copyItem(atPath: path, toPath: out) }
        return out
    }

    @Test func theDryRunPredictsTheImportExactly() throws {
        let dir = Fixtures.temporaryDirectory()
        let demo = try Fixtures.demo(posts: 80, name: "predictDemo")
        let other = try Fixtures.demo(posts: 30, seed: 9, name: "predictOther")
        let empty = try F.emptyTenant(in: dir, name: "empty.sqlite")
        let changed = try copy(demo, to: "changed.sqlite", in: dir)
        try Database(path: changed, mode: .readWrite).execute(
            "UPDATE _velo_posts SET title = 'changed' WHERE rowid % 3 = 0; DELETE FROM _velo_comments WHERE rowid % 2 = 0")
        let full = try F.export(demo, in: dir, systemTables: TransferPayload.allowedSystemTables, name: "full.json").path
        let plain = try F.export(demo, in: dir, name: "plain.json").path
        let dropping = try F.write(
            F.metadataPayload([F.collection("posts", fields: [F.field("title", "text")])]), in: dir, name: "dropping.json")
        let scenarios: [(String, String, RestorePlan.Strategy, Bool)] = [  // payload, target, conflict, expected to proceed
            (full, dir.appendingPathComponent("missing.sqlite").path, .skip, true),
            (full, empty, .skip, true),
            (full, other, .skip, false),
            (plain, other, .overwrite, false),
            (full, demo, .skip, true),
            (full, changed, .overwrite, true),
            (plain, changed, .skip, true),
            (dropping, demo, .overwrite, false),
            (dropping, demo, .skip, true),
        ]
        for (i, (payload, target, conflict, proceeds)) in scenarios.enumerated() {
            let dry = try copy(target, to: "dry-\(i).sqlite", in: dir)
            let real = try copy(target, to: "real-\(i).sqlite", in: dir)
            let before = F.bytes(real)
            let plan = try F.importPayload(payload, into: dry, conflict: conflict, dryRun: true)
            #expect(F.bytes(dry) == before, "scenario \(i): the dry run changed the target")
            let done = try F.importPayload(payload, into: real, conflict: conflict)
            #expect(plan.result.canProceed == proceeds, "scenario \(i): \(plan.result.findings.map(\.message))")
            #expect(plan.result.canProceed == done.committed, "scenario \(i)")
            #expect(plan.result.json == done.result.json, "scenario \(i)")
            #expect(plan.result.findings.map(\.message) == done.result.findings.map(\.message), "scenario \(i)")
            if !done.committed { #expect(F.bytes(real) == before, "scenario \(i): a blocked import changed the target") }
            if done.committed, let counts = done.result.counts("_velo_posts") {
                let rows = try Database(path: real).scalar("SELECT count(*) FROM _velo_posts")?.int64Value ?? 0
                #expect(rows >= Int64(counts.inserted), "scenario \(i)")
            }
        }
    }

    @Test func backupFromPayloadStoresTheExportAsASnapshotAtItsTime() throws {
        let dir = Fixtures.temporaryDirectory()
        let source = try Fixtures.demo(posts: 60)
        var options = PayloadExporter.Options()
        options.systemTables = TransferPayload.allowedSystemTables
        options.exportedAt = 1_780_000_000
        let path = dir.appendingPathComponent("p.json").path
        let output = try PayloadOutput.file(path)
        _ = try TransferExport.fromDatabase(source, options: options, to: output)
        try output.finish()
        let repository = try Repository.open(dir.appendingPathComponent("repo").path, create: true)
        let result = try PayloadSnapshot.run(payload: path, repository: repository, tags: ["veloquent-export"])
        #expect(result.time == Timestamp.iso8601(1_780_000_000))
        // The snapshot exports back to the same payload, collection ids included.
        let out = dir.appendingPathComponent("again.json").path
        let again = try PayloadOutput.file(out)
        var same = options
        same.exportedAt = nil
        _ = try TransferExport.fromSnapshot(
            .catalogued(try repository.catalog.entries()[0], repository: repository), repository: repository, options: same, to: again)
        try again.finish()
        let a = try JSONParser.parse(try FileSystem.read(path)), b = try JSONParser.parse(try FileSystem.read(out))
        #expect(a["exported_at"] == b["exported_at"])
        #expect(a["records"] == b["records"])
        #expect(a["metadata"]?["collections"]?.arrayValue?.map { $0["id"] } == b["metadata"]?["collections"]?.arrayValue?.map { $0["id"] })
    }
}
