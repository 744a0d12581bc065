import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VeloKit

/// Veloquent's schema-transfer routes through `velo transfer`'s code: `GET schema/transfer/options`,
/// `POST schema/transfer/export` (written to a private temporary file, then streamed inside the envelope) and
/// `POST schema/transfer/import` (the body streamed to a temporary file up to `--max-body`, then planned, with a
/// blocker answered 422 and its findings under `errors`, then a safety snapshot and one transaction).
struct TransferRoutes {
    let state: ServerState

    func register(on group: RouterGroup<VeloRequestContext>) {
        group.get("schema/transfer/options") { _, context in try await options(context) }
        group.post("schema/transfer/export") { request, context in try await export(request, context) }
        group.post("schema/transfer/import") { request, context in try await importPayload(request, context) }
    }

    func options(_ context: VeloRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let timeout = state.configuration.busyTimeout
        let data: JSONValue = try await BlockingWork.run {
            let db = try Database(path: tenant.databasePath, mode: .readOnly, busyTimeout: timeout)
            return PayloadExporter.options(try TenantDatabase.load(db))
        }
        return Envelope.success(data)
    }

    func export(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let body = try await JSONBody.read(request, limit: state.configuration.maxJSONBytes)
        var v = Validation.Collector()
        let collections = v.strings(body, "collections")
        let systemTables = v.strings(body, "system_tables")
        let includeRecords = v.bool(body, "include_records")
        try v.check()
        var options = PayloadExporter.Options()
        // Veloquent exports exactly the collections it is sent: none when the list is missing or empty.
        options.collections = collections ?? []
        options.systemTables = systemTables ?? []
        options.includeRecords = includeRecords ?? true
        for table in options.systemTables where !TransferPayload.allowedSystemTables.contains(table) {
            throw APIError.service("Table '\(table)' is not allowed for export/import.")
        }
        let tenant = try context.requireTenant()
        let timeout = state.configuration.busyTimeout
        let directory = try TemporaryFolder.make()
        let path = (directory as NSString).appendingPathComponent("export.json")
        let size: Int64
        do {
            size = try await BlockingWork.run {
                let output = try PayloadOutput.file(path)
                do {
                    _ = try TransferExport.fromDatabase(tenant.databasePath, options: options, to: output, busyTimeout: timeout)
                    try output.finish()
                } catch { output.abort(); throw error }
                return try FileStream.size(of: path)
            }
        } catch {
            TemporaryFolder.remove(directory)
            throw error
        }
        let body2 = try FileStream.body(
            path: path, size: size, prefix: Array("{\"message\":\"Success\",\"data\":".utf8), suffix: Array("}".utf8),
            streams: state.streams, onFinish: { TemporaryFolder.remove(directory) })
        return Response(status: .ok, headers: [.contentType: "application/json"], body: body2)
    }

    func importPayload(_ request: Request, _ context: VeloRequestContext) async throws -> Response {
        let limit = state.configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int64($0) }), length > limit {
            throw APIError(.contentTooLarge, "The request body is larger than the limit of \(limit) bytes.")
        }
        let tenant = try context.requireTenant()
        let repository = try await state.repository(for: "an import")
        let directory = try TemporaryFolder.make()
        defer { TemporaryFolder.remove(directory) }
        let path = (directory as NSString).appendingPathComponent("import.json")
        try await BodyFile.write(request.body, to: path, limit: limit)
        let timeout = state.configuration.busyTimeout
        // Veloquent's rules, with Laravel's semantics: `payload` required (present, not null, not empty) and an
        // array (a JSON object or array); `conflict` nullable, a string, in skip or overwrite. Strings are trimmed
        // (TrimStrings) and an empty one is as good as absent for every rule but `required`.
        let members: [PayloadRequestShape.Member]?
        do { members = try await BlockingWork.run { try PayloadRequestShape.members(path: path) } } catch let error as VeloFailure {
            // As for every other body: not JSON is a 400 naming the fault.
            throw APIError(.badRequest, "The request body is not valid JSON: \(error.clientDescription)")
        }
        guard let members else { throw Validation.failed(["payload": ["The payload field is required."]]) }
        var v = Validation.Collector()
        let payload = members.last { $0.key == "payload" }
        switch payload?.type {
        case nil, "null": v.add("payload", "The payload field is required.")
        case "object", "array":
            if payload?.isEmpty == true { v.add("payload", "The payload field is required.") }
        case "string" where (payload?.text ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty:
            v.add("payload", "The payload field is required.")
        default: v.add("payload", "The payload field must be an array.")
        }
        var conflict: RestorePlan.Strategy?
        if let member = members.last(where: { $0.key == "conflict" }), member.type != "null" {
            let text = member.text?.trimmingCharacters(in: .whitespacesAndNewlines)
            if member.type != "string" {
                v.add("conflict", "The conflict field must be a string.")
                v.add("conflict", "The selected conflict is invalid.")
            } else if let text, !text.isEmpty {
                if let strategy = RestorePlan.Strategy(rawValue: text) {
                    conflict = strategy
                } else {
                    v.add("conflict", "The selected conflict is invalid.")
                }
            }
        }
        try v.check()
        // A payload that is a list (Laravel's `array` accepts one) holds no collection and no table: nothing to do.
        if payload?.type == "array" {
            return Envelope.success(
                .object([("metadata", .array([])), ("records", .array([]))]), message: "Import completed successfully.")
        }
        let state = self.state
        let chosen = conflict ?? .skip
        let outcome = try await state.gate.with([state.databaseKey(tenant), state.repositoryKey], for: "transfer import") {
            try await BlockingWork.run {
                var options = TransferImport.Options()
                options.conflict = chosen
                options.busyTimeout = timeout
                options.safetySnapshot = true
                do {
                    return try TransferImport.run(payload: path, target: tenant.databasePath, options: options, repository: repository)
                } catch let error as VeloFailure {
                    throw APIError.from(
                        VeloError(
                            error.clientDescription.replacingOccurrences(of: (path as NSString).lastPathComponent, with: "payload"),
                            kind: error.kind))
                }
            }
        }
        guard outcome.committed else {
            let first = outcome.result.blockers.first?.message ?? "blocked"
            let more = outcome.result.blockers.count > 1 ? " (and \(outcome.result.blockers.count - 1) more)" : ""
            throw APIError.service(
                ClientText.scrub("The import is blocked: \(first)\(more); nothing was changed."),
                errors: APIError.clientWords(outcome.result.findingsJSON))
        }
        var response = Envelope.success(outcome.result.json, message: "Import completed successfully.")
        if let safety = outcome.safetySnapshot { response.headers[HTTPField.Name("X-Velo-Safety-Snapshot")!] = safety }
        return response
    }
}

/// A request body streamed to a file, refused past `limit` bytes (413) whatever its Content-Length said.
enum BodyFile {
    static func write(_ body: RequestBody, to path: String, limit: Int64) async throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw APIError.service("\(path): cannot create: \(String(cString: strerror(errno)))") }
        let box = FileDescriptorBox(fd)
        defer { box.close() }
        var total: Int64 = 0
        var pending: [UInt8] = []
        for try await chunk in body {
            total += Int64(chunk.readableBytes)
            guard total <= limit else {
                throw APIError(.contentTooLarge, "The request body is larger than the limit of \(limit) bytes.")
            }
            pending.append(contentsOf: chunk.readableBytesView)
            if pending.count >= 1 << 20 {
                let piece = pending
                pending.removeAll(keepingCapacity: true)
                try await BlockingWork.run { try box.writeAll(piece, path: path) }
            }
        }
        let piece = pending
        try await BlockingWork.run { try box.writeAll(piece, path: path) }
    }
}

extension FileDescriptorBox {
    func writeAll(_ bytes: [UInt8], path: String) throws {
        try withDescriptor { fd in
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw APIError.service("\(path): write failed: \(String(cString: strerror(errno)))") }
                offset += n
            }
        }
    }
}
