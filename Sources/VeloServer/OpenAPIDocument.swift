import VeloKit

/// The OpenAPI 3.1 document of every route `velo serve` serves, built once here: served at
/// `GET /api/openapi.json` and written to `docs/openapi.yaml` (a test keeps that file equal to it).
package enum OpenAPIDocument {
    private typealias J = JSONValue

    private static func obj(_ pairs: (String, J)...) -> J { .object(pairs) }
    private static func str(_ s: String) -> J { .string(s) }
    private static func ref(_ name: String) -> J { obj(("$ref", str("#/components/schemas/\(name)"))) }
    private static func strings(_ items: [String]) -> J { .array(items.map { .string($0) }) }

    /// `{"message", "data"}` with `data` of `schema`.
    private static func envelope(_ data: J) -> J {
        obj(
            ("type", str("object")), ("required", strings(["message", "data"])),
            ("properties", obj(("message", obj(("type", str("string")))), ("data", data))))
    }

    private static func json(_ schema: J, _ description: String) -> J {
        obj(("description", str(description)), ("content", obj(("application/json", obj(("schema", schema))))))
    }

    private static let arrayOfObjects: J = obj(("type", str("array")), ("items", obj(("type", str("object")))))
    private static let anyObject: J = obj(("type", str("object")))
    private static let stringArray: J = obj(("type", str("array")), ("items", obj(("type", str("string")))))

    /// The error responses every protected route can give.
    private static func errors(_ extra: [(String, J)] = [], validation: Bool = true, service: Bool = true) -> [(String, J)] {
        var out: [(String, J)] = [
            ("400", obj(("$ref", str("#/components/responses/BadRequest")))),
            ("401", obj(("$ref", str("#/components/responses/Unauthorized")))),
            ("403", obj(("$ref", str("#/components/responses/Forbidden")))),
            ("404", obj(("$ref", str("#/components/responses/NotFound")))),
        ]
        if validation || service { out.append(("422", obj(("$ref", str("#/components/responses/Unprocessable"))))) }
        out.append(contentsOf: extra)
        return out
    }

    private static func operation(
        _ summary: String, _ id: String, tag: String, ok: J, body: J? = nil, parameters: [J] = [],
        errors: [(String, J)], okStatus: String = "200", secured: Bool = true
    ) -> J {
        var pairs: [(String, J)] = [("summary", str(summary)), ("operationId", str(id)), ("tags", strings([tag]))]
        if !parameters.isEmpty { pairs.append(("parameters", .array(parameters))) }
        if let body {
            pairs.append(("requestBody", obj(("required", .bool(false)), ("content", obj(("application/json", obj(("schema", body))))))))
        }
        pairs.append(("responses", .object([(okStatus, ok)] + errors)))
        if !secured { pairs.append(("security", .array([]))) }
        return .object(pairs)
    }

    private static func pathParameter(_ name: String, _ description: String) -> J {
        obj(
            ("name", str(name)), ("in", str("path")), ("required", .bool(true)), ("description", str(description)),
            ("schema", obj(("type", str("string")), ("minLength", .int(1)))))
    }

    /// The options of a restore's body (and its plan's).
    private static let restoreProperties: [(String, J)] = [
        ("conflict", obj(("type", str("string")), ("enum", strings(["skip", "overwrite"])))),
        (
            "conflict_for",
            obj(("type", str("object")), ("additionalProperties", obj(("type", str("string")), ("enum", strings(["skip", "overwrite"])))))
        ),
        ("collections", stringArray), ("system_tables", stringArray), ("confirm", obj(("type", str("boolean")))),
    ]

    private static let restoreBody: J = obj(("type", str("object")), ("properties", .object(restoreProperties)))

    /// A restore's body with the moment of continuous capture it is of.
    private static let momentBody: J = obj(
        ("type", str("object")), ("required", strings(["at"])),
        (
            "properties",
            .object(
                [("at", obj(("type", str("string")), ("description", str("A moment, ISO 8601 (fractions of a second kept)."))))]
                    + restoreProperties)
        ))

    /// The document, with paths under `prefix` (`/api`).
    package static func json(prefix: String) -> JSONValue {
        let snapshot = pathParameter("snapshot", "A snapshot id, a unique id prefix, or latest.")
        let busy: (String, J) = ("409", obj(("$ref", str("#/components/responses/Conflict"))))
        let tooLarge: (String, J) = ("413", obj(("$ref", str("#/components/responses/TooLarge"))))
        let zstd: J = obj(("type", str("string")), ("contentMediaType", str("application/zstd")))
        let archive: J = obj(("description", str("The archive.")), ("content", obj(("application/zstd", obj(("schema", zstd))))))
        let paths: [(String, J)] = [
            (
                "/collections/superusers/auth/login",
                obj(
                    (
                        "post",
                        operation(
                            "Log in as a superuser (Veloquent's standard login); the token works in Veloquent too.", "login", tag: "auth",
                            ok: json(
                                envelope(
                                    obj(
                                        ("type", str("object")), ("required", strings(["token", "expires_in", "collection_name"])),
                                        (
                                            "properties",
                                            obj(
                                                ("token", obj(("type", str("string")))), ("expires_in", obj(("type", str("integer")))),
                                                ("collection_name", obj(("type", str("string")))))
                                        ))), "A new bearer token."),
                            body: obj(
                                ("type", str("object")), ("required", strings(["identity", "password"])),
                                ("properties", obj(("identity", obj(("type", str("string")))), ("password", obj(("type", str("string"))))))),
                            errors: [
                                ("400", obj(("$ref", str("#/components/responses/BadRequest")))),
                                ("401", obj(("$ref", str("#/components/responses/Unauthorized")))),
                                ("404", obj(("$ref", str("#/components/responses/NotFound")))),
                                ("422", obj(("$ref", str("#/components/responses/Unprocessable")))),
                                ("429", obj(("$ref", str("#/components/responses/TooManyRequests")))),
                            ],
                            secured: false)
                    ))
            ),
            (
                "/collections/superusers/auth/me",
                obj(
                    (
                        "get",
                        operation(
                            "The signed-in superuser (Veloquent's auth/me: the record without its password).", "me", tag: "auth",
                            ok: json(envelope(anyObject), "The superuser's record, with collection_id and collection_name."),
                            errors: errors(validation: false, service: false))
                    ))
            ),
            (
                "/collections/superusers/auth/logout",
                obj(
                    (
                        "delete",
                        operation(
                            "Revoke this token.", "logout", tag: "auth", ok: json(envelope(obj(("type", str("array")))), "Logged out."),
                            errors: errors(validation: false, service: false))
                    ))
            ),
            (
                "/collections/superusers/auth/logout-all",
                obj(
                    (
                        "delete",
                        operation(
                            "Revoke every token of the signed-in superuser.", "logoutAll", tag: "auth",
                            ok: json(envelope(obj(("type", str("array")))), "Logged out everywhere."),
                            errors: errors(validation: false, service: false))
                    ))
            ),
            (
                "/onboarding/initialized",
                obj(
                    (
                        "post",
                        operation(
                            "Whether a superuser exists (the admin UI asks before showing its login).", "initialized", tag: "auth",
                            ok: json(envelope(obj(("type", str("boolean")))), "true when a superuser exists."),
                            errors: [("404", obj(("$ref", str("#/components/responses/NotFound"))))], secured: false)
                    ))
            ),
            (
                "/schema/corrupt",
                obj(
                    (
                        "get",
                        operation(
                            "Unfinished schema_jobs markers (as Veloquent lists them) and collections whose table drifted (operation drift), with velo's findings.",
                            "listCorrupt", tag: "schema", ok: json(envelope(arrayOfObjects), "Entries."), errors: errors(validation: false))
                    ))
            ),
            (
                "/collections/{collection}/recover",
                obj(
                    ("parameters", .array([pathParameter("collection", "A collection id or name.")])),
                    (
                        "post",
                        operation(
                            "Recover a collection without losing a row, after a snapshot of it.", "recoverCollection", tag: "schema",
                            ok: json(envelope(anyObject), "Recovered."), errors: errors([busy]))
                    ))
            ),
            (
                "/schema/orphans",
                obj(
                    (
                        "get",
                        operation(
                            "Orphan tables (pivot tables of live relation_many fields are not orphans).", "listOrphans", tag: "schema",
                            ok: json(envelope(stringArray), "Table names."), errors: errors(validation: false))
                    ),
                    (
                        "delete",
                        operation(
                            "Drop every orphan table, snapshotted first.", "dropAllOrphans", tag: "schema",
                            ok: json(envelope(anyObject), "Dropped."), errors: errors([busy]))
                    ))
            ),
            (
                "/schema/orphans/{table_name}",
                obj(
                    ("parameters", .array([pathParameter("table_name", "The orphan table.")])),
                    (
                        "delete",
                        operation(
                            "Drop one orphan table, snapshotted first.", "dropOrphan", tag: "schema",
                            ok: json(envelope(anyObject), "Dropped."), errors: errors([busy]))
                    ))
            ),
            (
                "/schema/transfer/options",
                obj(
                    (
                        "get",
                        operation(
                            "What can be exported.", "transferOptions", tag: "transfer",
                            ok: json(
                                envelope(
                                    obj(
                                        ("type", str("object")), ("required", strings(["collections", "system_tables"])),
                                        ("properties", obj(("collections", arrayOfObjects), ("system_tables", stringArray))))), "Options."),
                            errors: errors(validation: false))
                    ))
            ),
            (
                "/schema/transfer/export",
                obj(
                    (
                        "post",
                        operation(
                            "Export a transfer payload (Veloquent's shape), streamed.", "transferExport", tag: "transfer",
                            ok: json(envelope(anyObject), "The payload."),
                            body: obj(
                                ("type", str("object")),
                                (
                                    "properties",
                                    obj(
                                        (
                                            "collections",
                                            obj(("type", .array([str("array"), str("null")])), ("items", obj(("type", str("string")))))
                                        ),
                                        (
                                            "system_tables",
                                            obj(("type", .array([str("array"), str("null")])), ("items", obj(("type", str("string")))))
                                        ),
                                        ("include_records", obj(("type", .array([str("boolean"), str("null")])))))
                                )),
                            errors: errors())
                    ))
            ),
            (
                "/schema/transfer/import",
                obj(
                    (
                        "post",
                        operation(
                            "Import a transfer payload: planned first (a blocker is 422 with findings under errors), a safety snapshot, one transaction.",
                            "transferImport", tag: "transfer",
                            ok: json(
                                envelope(obj(("type", str("object")), ("required", strings(["metadata", "records"])))), "What was imported."
                            ),
                            body: obj(
                                ("type", str("object")), ("required", strings(["payload"])),
                                (
                                    "properties",
                                    obj(
                                        ("payload", anyObject),
                                        ("conflict", obj(("type", str("string")), ("enum", strings(["skip", "overwrite"])))))
                                )),
                            errors: errors([busy, tooLarge]))
                    ))
            ),
            (
                "/backups",
                obj(
                    (
                        "get",
                        operation(
                            "Snapshots (velo snapshots --json).", "listBackups", tag: "backups",
                            ok: json(envelope(arrayOfObjects), "Snapshots."),
                            parameters: [
                                obj(
                                    ("name", str("tag")), ("in", str("query")), ("required", .bool(false)),
                                    ("schema", obj(("type", str("string")))))
                            ],
                            errors: errors(validation: false))
                    ),
                    (
                        "post",
                        operation(
                            "Take a backup now (velo backup --json).", "createBackup", tag: "backups",
                            ok: obj(
                                (
                                    "description",
                                    str(
                                        "The snapshot; asked for text/event-stream, the backup's progress events, then its result or its error."
                                    )
                                ),
                                (
                                    "content",
                                    obj(
                                        ("application/json", obj(("schema", envelope(anyObject)))),
                                        ("text/event-stream", obj(("schema", obj(("type", str("string")))))))
                                )),
                            body: obj(
                                ("type", str("object")),
                                (
                                    "properties",
                                    obj(
                                        ("tags", stringArray), ("collections", stringArray), ("exclude_tables", stringArray),
                                        ("include_framework", obj(("type", str("boolean")))), ("records", obj(("type", str("boolean")))),
                                        ("level", obj(("type", str("integer")), ("minimum", .int(1)), ("maximum", .int(19)))))
                                )),
                            errors: errors([busy]))
                    ))
            ),
            (
                "/backups/status",
                obj(
                    (
                        "get",
                        operation(
                            "Each source's newest snapshot, last verification and state (velo status --json), with what a restore's confirmation asks to be typed (name), the config's retention policy and, with a landlord, the tenant each source is (tenants).",
                            "backupStatus", tag: "backups",
                            ok: json(
                                envelope(obj(("type", str("object")), ("required", strings(["state", "sources", "name", "served"])))),
                                "The status."),
                            parameters: ["max_age", "max_verify_age"].map {
                                obj(
                                    ("name", str($0)), ("in", str("query")), ("required", .bool(false)),
                                    ("schema", obj(("type", str("string")), ("pattern", str("^([0-9]+[smhdw])+$")))))
                            },
                            errors: errors())
                    ))
            ),
            (
                "/backups/verify",
                obj(
                    (
                        "post",
                        operation(
                            "Verify every snapshot (velo verify --all --json).", "verifyAllBackups", tag: "backups",
                            ok: json(envelope(arrayOfObjects), "Reports."), errors: errors(validation: false))
                    ))
            ),
            (
                "/backups/prune",
                obj(
                    (
                        "post",
                        operation(
                            "Prune with a retention policy (velo prune --json).", "pruneBackups", tag: "backups",
                            ok: json(envelope(anyObject), "The prune report."),
                            body: obj(
                                ("type", str("object")), ("required", strings(["policy"])),
                                ("properties", obj(("policy", anyObject), ("dry_run", obj(("type", str("boolean"))))))),
                            errors: errors([busy]))
                    ))
            ),
            (
                "/backups/moments",
                obj(
                    (
                        "get",
                        operation(
                            "This database's continuous capture (velo replicate): lag, restorable windows and gaps, as velo status --json reports them under continuous.",
                            "backupMoments", tag: "backups", ok: json(envelope(anyObject), "The capture's status."),
                            errors: errors(validation: false))
                    ))
            ),
            (
                "/backups/moments/plan",
                obj(
                    (
                        "post",
                        operation(
                            "Plan merging this database as it was at a captured moment into it (velo plan --at --json): the moment and the plan.",
                            "planMomentRestore", tag: "backups", ok: json(envelope(anyObject), "The moment and the plan."),
                            body: momentBody,
                            errors: errors())
                    ))
            ),
            (
                "/backups/moments/restore",
                obj(
                    (
                        "post",
                        operation(
                            "Merge this database as it was at a captured moment into it, after a safety snapshot; needs confirm: true (velo restore --at --yes --json).",
                            "restoreMoment", tag: "backups", ok: json(envelope(anyObject), "What was restored."), body: momentBody,
                            errors: errors([busy]))
                    ))
            ),
            (
                "/backups/{snapshot}",
                obj(
                    ("parameters", .array([snapshot])),
                    (
                        "get",
                        operation(
                            "What a snapshot holds (velo inspect --json).", "inspectBackup", tag: "backups",
                            ok: json(envelope(anyObject), "The inspection."), errors: errors())
                    ))
            ),
            (
                "/backups/{snapshot}/verify",
                obj(
                    ("parameters", .array([snapshot])),
                    (
                        "post",
                        operation(
                            "Verify one snapshot (velo verify --json).", "verifyBackup", tag: "backups",
                            ok: json(envelope(arrayOfObjects), "Reports."), errors: errors())
                    ))
            ),
            (
                "/backups/{snapshot}/plan",
                obj(
                    ("parameters", .array([snapshot])),
                    (
                        "post",
                        operation(
                            "Plan restoring a snapshot into this database (velo plan --json).", "planRestore", tag: "backups",
                            ok: json(envelope(anyObject), "The plan."), body: restoreBody,
                            errors: errors())
                    ))
            ),
            (
                "/backups/{snapshot}/restore",
                obj(
                    ("parameters", .array([snapshot])),
                    (
                        "post",
                        operation(
                            "Restore a snapshot into this database (a tenant's with its uploaded files when the server serves an app); needs confirm: true (velo restore --json).",
                            "restoreBackup",
                            tag: "backups",
                            ok: json(envelope(anyObject), "What was restored."), body: restoreBody,
                            errors: errors([busy]))
                    ))
            ),
            (
                "/backups/{snapshot}/archive",
                obj(
                    ("parameters", .array([snapshot])),
                    (
                        "get",
                        operation(
                            "Download the archive (ETag: its SHA-256).", "downloadBackup", tag: "backups",
                            ok: archive,
                            errors: errors([("304", obj(("description", str("Not modified (If-None-Match)."))))], validation: false))
                    ))
            ),
            (
                "/backups/{snapshot}/export",
                obj(
                    ("parameters", .array([snapshot])),
                    (
                        "get",
                        operation(
                            "Download the snapshot as one self-contained format-1 archive (velo export --decrypt), for an incremental snapshot too.",
                            "exportBackup", tag: "backups", ok: archive, errors: errors())
                    ))
            ),
            (
                "/openapi.json",
                obj(
                    (
                        "get",
                        operation(
                            "This document.", "openapi", tag: "meta", ok: json(anyObject, "The OpenAPI document."),
                            errors: errors(validation: false))
                    ))
            ),
        ]
        func errorResponse(_ description: String, errorsKey: Bool) -> J {
            var properties: [(String, J)] = [("message", obj(("type", str("string"))))]
            if errorsKey { properties.append(("errors", obj(("type", .array([str("object"), str("array"), str("null")]))))) }
            return json(obj(("type", str("object")), ("required", strings(["message"])), ("properties", .object(properties))), description)
        }
        return obj(
            ("openapi", str("3.1.0")),
            (
                "info",
                obj(
                    ("title", str("velo serve")), ("version", str(VeloVersion.current)),
                    (
                        "description",
                        str(
                            "Veloquent's superuser schema-management API served by velo, and velo's backups. Every response is {\"message\", \"data\"}; errors are {\"message\", \"errors\"?}."
                        )
                    ))
            ),
            ("servers", .array([obj(("url", str(prefix.isEmpty ? "/" : prefix)))])),
            ("security", .array([obj(("bearer", .array([])))])),
            ("paths", .object(paths)),
            (
                "components",
                obj(
                    (
                        "securitySchemes",
                        obj(
                            (
                                "bearer",
                                obj(
                                    ("type", str("http")), ("scheme", str("bearer")),
                                    ("description", str("A superuser token from the login route, or one Veloquent issued.")))
                            ))
                    ),
                    (
                        "responses",
                        obj(
                            ("BadRequest", errorResponse("The body is not JSON.", errorsKey: false)),
                            (
                                "Unauthorized",
                                errorResponse("No valid, unexpired, unrevoked token (or invalid credentials).", errorsKey: false)
                            ),
                            ("Forbidden", errorResponse("The token is not a superuser's.", errorsKey: false)),
                            ("NotFound", errorResponse("Unknown tenant, collection or snapshot.", errorsKey: false)),
                            ("Conflict", errorResponse("Another operation holds the database or the repository.", errorsKey: true)),
                            ("TooLarge", errorResponse("The body is larger than the server's limit.", errorsKey: false)),
                            (
                                "Unprocessable",
                                errorResponse(
                                    "Validation errors (errors by field), or a service error (errors null, or a blocked plan's findings).",
                                    errorsKey: true)
                            ),
                            ("TooManyRequests", errorResponse("Too many failed logins from this address.", errorsKey: false)))
                    ))
            )
        )
    }

    /// The document as YAML (block style; strings double-quoted, JSON escapes), for `docs/openapi.yaml`.
    package static func yaml(prefix: String) -> String {
        var out = "# Generated from Sources/VeloServer/OpenAPIDocument.swift; served by velo serve at GET /api/openapi.json.\n"
        func scalar(_ v: J) -> String { JSONWriter.string(v) }
        func emit(_ v: J, indent: Int) {
            let pad = String(repeating: " ", count: indent)
            switch v {
            case .object(let pairs):
                for (key, value) in pairs {
                    let k = plainKey(key) ? key : scalar(.string(key))
                    switch value {
                    case .object(let inner) where !inner.isEmpty: out += "\(pad)\(k):\n"; emit(value, indent: indent + 2)
                    case .array(let items) where !items.isEmpty: out += "\(pad)\(k):\n"; emit(value, indent: indent + 2)
                    default: out += "\(pad)\(k): \(inline(value))\n"
                    }
                }
            case .array(let items):
                for item in items {
                    switch item {
                    case .object(let inner) where !inner.isEmpty:
                        out += "\(pad)-\n"; emit(item, indent: indent + 2)
                    case .array(let inner) where !inner.isEmpty:
                        out += "\(pad)-\n"; emit(item, indent: indent + 2)
                    default: out += "\(pad)- \(inline(item))\n"
                    }
                }
            default: out += "\(pad)\(inline(v))\n"
            }
        }
        /// Keys YAML reads back as the same string without quotes.
        func plainKey(_ key: String) -> Bool {
            guard let first = key.unicodeScalars.first, first.properties.isAlphabetic || first == "/" || first == "$" || first == "_" else {
                return false
            }
            return key.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "/_$.-".unicodeScalars.contains($0)
            }
                && !["true", "false", "null", "yes", "no", "on", "off", "y", "n"].contains(key.lowercased())
        }
        func inline(_ v: J) -> String {
            switch v {
            case .object(let p) where p.isEmpty: return "{}"
            case .array(let a) where a.isEmpty: return "[]"
            default: return scalar(v)
            }
        }
        emit(json(prefix: prefix), indent: 0)
        return out
    }
}
