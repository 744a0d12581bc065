import Crypto
import Foundation
import VeloFormat

/// One key file of an encrypted repository (`keys/<id>.json`): the master key wrapped with AES-256-GCM under a key
/// that scrypt derives from one password. A repository has one per password; adding, changing or removing a
/// password writes or removes a key file and leaves every other object as it is (`velo key`).
///
///     {"format": "velo-key", "version": 1, "id": "<16 hex>", "created": "…", "host": "…", "user": "…",
///      "repository": "<repository id>", "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 3, "salt": "<base64>"},
///      "cipher": "AES-256-GCM", "nonce": "<base64>", "master_key": "<base64>", "checksum": "<hex>"}
///
/// The wrapping's associated data is `velo-key-v1 ‖ 0x0A ‖ repository id ‖ 0x0A ‖ key id`, so a key file of another
/// repository (or under another id) does not open here. `checksum` is the SHA-256 of every other field
/// (`checksumText`): a key file edited by hand or damaged on disk is reported as damage, naming it, and not as
/// a wrong password. (It is no defence against someone who recomputes it, and needs none: an edit still opens
/// nothing.)
public struct KeyFile: Sendable, Equatable {
    public var id: String
    public var created: String
    public var host: String
    public var user: String
    public var repository: String
    public var scrypt: ScryptParameters
    public var salt: [UInt8]
    public var nonce: [UInt8]
    public var wrapped: [UInt8]

    public static let formatName = "velo-key"

    /// Wraps `keys` under `password` for the repository `repository`.
    public static func make(
        _ keys: RepositoryKeys, password: [UInt8], repository: String, parameters: ScryptParameters, host: String, user: String,
        now: Int64? = nil
    ) throws -> KeyFile {
        var random = SystemRandomNumberGenerator()
        let id = (0..<8).map { _ in RepositoryKeys.hex(UInt8.random(in: 0...255, using: &random)) }.joined()
        let salt = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let wrappingKey = try parameters.derive(password, salt: salt)
        let box = try keys.master.withUnsafeBytes {
            try AES.GCM.seal($0, using: wrappingKey, nonce: AES.GCM.Nonce(), authenticating: associatedData(repository: repository, id: id))
        }
        return KeyFile(
            id: id, created: Timestamp.iso8601(now ?? Timestamp.now), host: host, user: user, repository: repository, scrypt: parameters,
            salt: salt,
            nonce: Array(box.nonce), wrapped: Array(box.ciphertext) + Array(box.tag))
    }

    static func associatedData(repository: String, id: String) -> [UInt8] { Array("velo-key-v1\n\(repository)\n\(id)".utf8) }

    /// The repository's keys when `password` is this key file's, nil when it is not.
    public func unwrap(_ password: [UInt8]) throws -> RepositoryKeys? {
        let wrappingKey = try scrypt.derive(password, salt: salt)
        guard wrapped.count == RepositoryKeys.masterKeyBytes + 16,
            let box = try? AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: wrapped.dropLast(16), tag: wrapped.suffix(16)),
            let master = try? AES.GCM.open(box, using: wrappingKey, authenticating: Self.associatedData(repository: repository, id: id))
        else { return nil }
        return RepositoryKeys(master: SymmetricKey(data: master))
    }

    /// The text `checksum` is the SHA-256 of: every field but the checksum, one a line, in this order.
    var checksumText: String {
        [
            "velo-key-v1", id, created, host, user, repository, "scrypt", String(scrypt.n), String(scrypt.r), String(scrypt.p),
            Self.base64(salt), "AES-256-GCM", Self.base64(nonce), Self.base64(wrapped),
        ].joined(separator: "\n")
    }

    public var checksum: String { SHA256Digest.of(Array(checksumText.utf8)) }

    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// The key file as stored.
    public var bytes: [UInt8] {
        let document = JSONValue.object([
            ("format", .string(Self.formatName)), ("version", .int(1)), ("id", .string(id)), ("created", .string(created)),
            ("host", .string(host)), ("user", .string(user)), ("repository", .string(repository)),
            (
                "kdf",
                .object([
                    ("name", .string("scrypt")), ("n", .int(scrypt.n)), ("r", .int(scrypt.r)), ("p", .int(scrypt.p)),
                    ("salt", .string(Self.base64(salt))),
                ])
            ),
            ("cipher", .string("AES-256-GCM")), ("nonce", .string(Self.base64(nonce))), ("master_key", .string(Self.base64(wrapped))),
            ("checksum", .string(checksum)),
        ])
        return Array((JSONWriter.string(document, pretty: true) + "\n").utf8)
    }

    /// Reads a stored key file.
    /// - Throws: `VeloError` (`.damaged`) naming the key file (`describe`) when it is not a key file, a field is
    ///   missing or malformed, its parameters are outside what velo derives with, or its checksum disagrees.
    public static func parse(_ bytes: [UInt8], describe: String) throws -> KeyFile {
        func damaged(_ what: String) -> VeloError { VeloError("\(describe): \(what)", kind: .damaged) }
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw damaged("not a velo key file (\(error))") }
        guard json["format"]?.stringValue == formatName else { throw damaged("not a velo key file") }
        guard json["version"]?.intValue == 1 else {
            throw damaged("key file version \(json["version"].map { JSONWriter.string($0) } ?? "?") is not one this velo reads")
        }
        func text(_ key: String, in value: JSONValue? = nil) throws -> String {
            guard let text = (value ?? json)[key]?.stringValue else { throw damaged("its \(key) is missing or not text") }
            return text
        }
        func data(_ key: String, in value: JSONValue? = nil, count: Int) throws -> [UInt8] {
            guard let decoded = Data(base64Encoded: try text(key, in: value)), decoded.count == count else {
                throw damaged("its \(key) is not \(count) bytes of base64")
            }
            return Array(decoded)
        }
        guard let kdf = json["kdf"], kdf["name"]?.stringValue == "scrypt" else { throw damaged("its kdf is not scrypt") }
        guard let n = kdf["n"]?.intValue, let r = kdf["r"]?.intValue, let p = kdf["p"]?.intValue else {
            throw damaged("its scrypt parameters are missing")
        }
        let parameters = ScryptParameters(n: n, r: r, p: p)
        guard parameters.isAccepted else {
            throw damaged("its scrypt parameters (n \(n), r \(r), p \(p)) are outside what velo derives with")
        }
        guard json["cipher"]?.stringValue == "AES-256-GCM" else { throw damaged("its cipher is not AES-256-GCM") }
        let file = KeyFile(
            id: try text("id"), created: try text("created"), host: try text("host"), user: try text("user"),
            repository: try text("repository"), scrypt: parameters, salt: try data("salt", in: kdf, count: 32),
            nonce: try data("nonce", count: 12), wrapped: try data("master_key", count: RepositoryKeys.masterKeyBytes + 16))
        guard try text("checksum") == file.checksum else {
            throw damaged("its checksum does not match its contents (the key file was edited or damaged)")
        }
        return file
    }
}
