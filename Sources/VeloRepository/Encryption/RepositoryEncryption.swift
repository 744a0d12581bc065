import Foundation
import VeloFormat
import VeloStorage

/// How a repository is encrypted, as its identity says (`velo-repository.json`, version 2):
///
///     "encryption": {"version": 1, "cipher": "AES-256-GCM", "chunk_bytes": 65536, "kdf": "scrypt",
///                    "key_fingerprint": "<16 hex>"}
///
/// A repository is encrypted from its creation or never (version 1 has no `encryption`, and a velo before
/// encryption refuses version 2 as newer than it reads, rather than misread sealed objects). `key_fingerprint`
/// (`RepositoryKeys.fingerprint`) says which master key the repository's objects are sealed with: a key file that
/// opens with the password but wraps another master key (a killed `velo init` left it, or somebody added it) is
/// never used.
package enum RepositoryEncryption {
    static let identityVersion = 2

    /// The identity's `encryption` object for `keys`.
    static func identityBlock(_ keys: RepositoryKeys) -> JSONValue {
        .object([
            ("version", .int(1)), ("cipher", .string("AES-256-GCM")), ("chunk_bytes", .int(SealedObject.chunkBytes)),
            ("kdf", .string("scrypt")), ("key_fingerprint", .string(keys.fingerprint)),
        ])
    }

    /// Checks the identity's `encryption` object; returns the master key's fingerprint.
    static func fingerprint(of identity: JSONValue, describe: String) throws -> String {
        guard let block = identity["encryption"], block["version"]?.intValue == 1, block["cipher"]?.stringValue == "AES-256-GCM",
            block["chunk_bytes"]?.intValue == SealedObject.chunkBytes, block["kdf"]?.stringValue == "scrypt",
            let fingerprint = block["key_fingerprint"]?.stringValue
        else {
            throw VeloError("\(describe): its encryption settings are missing or not ones this velo reads", kind: .damaged)
        }
        return fingerprint
    }

    /// The key files stored, each parsed, or the damage that stops it being read.
    static func keyFiles(in storage: any RepositoryStorage) throws -> [(StoredName, Result<KeyFile, VeloError>)] {
        var names: [StoredName] = []
        try storage.list(.key) { name, _ in names.append(name) }
        return names.sorted { $0.name < $1.name }.map { name in
            do { return (name, .success(try KeyFile.parse(try storage.load(name), describe: storage.describe(name)))) } catch let error
                as VeloError
            {
                return (name, .failure(error))
            } catch {
                return (name, .failure(VeloError("\(storage.describe(name)): \(error)", kind: .damaged)))
            }
        }
    }

    /// The repository's keys, from the first key file `password` opens that wraps the master key the identity
    /// names.
    /// - Throws: `VeloError` `.wrongPassword` when it opens none (nothing has been read but the identity and the
    ///   key files); `.damaged` naming a key file that cannot be read when no other opens; `.input` when there is
    ///   no password to try.
    static func unlock(
        _ storage: any RepositoryStorage, repositoryID: String, fingerprint: String, password source: PasswordSource?
    ) throws -> (RepositoryKeys, KeyFile) {
        guard let source else {
            throw VeloError(
                "\(storage.location): the repository is encrypted and no password was given",
                remedy: .givePassword(repository: storage.location))
        }
        let files = try keyFiles(in: storage)
        guard !files.isEmpty else {
            throw VeloError("\(storage.location): the repository is encrypted but has no key file in keys/", kind: .damaged)
        }
        let password = try source.read("Password for \(storage.location): ")
        if let known = UnlockedKeys.shared.keys(storage, password: password, fingerprint: fingerprint) { return known }
        var damaged: [VeloError] = []
        var foreign: [String] = []
        for (name, parsed) in files {
            switch parsed {
            case .failure(let error): damaged.append(error)
            case .success(let file):
                guard file.repository == repositoryID else {
                    damaged.append(
                        VeloError("\(storage.describe(name)): belongs to repository \(file.repository), not this one", kind: .damaged))
                    continue
                }
                guard let keys = try file.unwrap(password) else { continue }
                guard keys.fingerprint == fingerprint else {
                    foreign.append(name.relativePath)
                    continue
                }
                UnlockedKeys.shared.remember(storage, password: password, keys: keys, file: file)
                return (keys, file)
            }
        }
        if let first = damaged.first { throw first }
        if let key = foreign.first {
            throw VeloError(
                "\(storage.location): the password opens \(key), but that key file holds another master key than the repository's (a killed `init` left it, or it was added by someone else); it is not used",
                kind: .damaged)
        }
        throw VeloError(
            "\(storage.location): wrong password (from \(source.origin)): it opens none of the repository's \(files.count) key file\(files.count == 1 ? "" : "s")",
            kind: .wrongPassword)
    }

    /// A new key file for `keys` under `password`, stored (created only if absent).
    static func addKeyFile(
        _ keys: RepositoryKeys, password: [UInt8], repositoryID: String, parameters: ScryptParameters?, in storage: any RepositoryStorage
    ) throws -> KeyFile {
        let file = try KeyFile.make(
            keys, password: password, repository: repositoryID, parameters: parameters ?? .calibrated(), host: FileSystem.hostName,
            user: ProcessInfo.processInfo.environment["USER"] ?? NSUserName())
        guard try storage.saveIfAbsent(.key(file.id), file.bytes) else {
            throw VeloError("\(storage.describe(.key(file.id))): a key file of that id exists already", kind: .io)
        }
        return file
    }

    /// The storage of an encrypted repository: `inner` sealed with `keys`. This machine's caches and scratch
    /// files of a local repository go to `~/.cache/velo/repositories/<id>` and the temporary folder, never into
    /// the repository's folder; a bucket's already are on this machine.
    static func seal(_ inner: any RepositoryStorage, keys: RepositoryKeys, repositoryID: String) -> EncryptedStorage {
        guard inner is LocalStorage else {
            return EncryptedStorage(inner, keys: keys, cacheDirectory: inner.cacheDirectory, scratchDirectory: inner.scratchDirectory)
        }
        let environment = ProcessInfo.processInfo.environment
        let base =
            environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) as NSString).appendingPathComponent(".cache")
        return EncryptedStorage(
            inner, keys: keys, cacheDirectory: (base as NSString).appendingPathComponent("velo/repositories/\(repositoryID)"),
            scratchDirectory: (NSTemporaryDirectory() as NSString).appendingPathComponent("velo-\(repositoryID)"))
    }
}

extension Repository {
    /// Whether the repository's objects are encrypted.
    public var isEncrypted: Bool { storage.keys != nil }
}

/// One key file as `velo key list` shows it.
public struct KeyFileStatus: Sendable, Encodable {
    public var id: String
    public var created: String?
    public var host: String?
    public var user: String?
    /// scrypt's parameters and the memory one derivation takes.
    public var n: Int?
    public var r: Int?
    public var p: Int?
    public var memoryBytes: Int?
    /// Whether it is the key file the password opened.
    public var current: Bool
    /// Why it cannot be read, when it cannot.
    public var damage: String?

    enum CodingKeys: String, CodingKey {
        case id, created, host, user, n, r, p, current, damage
        case memoryBytes = "memory_bytes"
    }
}

extension Repository {
    private func requireEncrypted() throws -> RepositoryKeys {
        guard let keys = storage.keys else {
            throw VeloError("\(root): the repository is not encrypted: it has no key files")
        }
        return keys
    }

    /// Every key file, the damaged ones with their damage.
    public func keyFiles() throws -> [KeyFileStatus] {
        _ = try requireEncrypted()
        return try RepositoryEncryption.keyFiles(in: storage).map { name, parsed in
            switch parsed {
            case .success(let file):
                return KeyFileStatus(
                    id: file.id, created: file.created, host: file.host, user: file.user, n: file.scrypt.n, r: file.scrypt.r,
                    p: file.scrypt.p, memoryBytes: file.scrypt.memoryBytes, current: file.id == keyFile?.id)
            case .failure(let error):
                return KeyFileStatus(id: String(name.name.dropLast(5)), current: false, damage: error.description)
            }
        }
    }

    /// Adds a key file for `password` (the same master key: nothing else is written).
    public func addKey(password: [UInt8], parameters: ScryptParameters? = nil) throws -> KeyFile {
        let keys = try requireEncrypted()
        guard let id = self.id else { throw VeloError("\(storage.describe(.config)): cannot read the repository's id", kind: .damaged) }
        return try RepositoryEncryption.addKeyFile(keys, password: password, repositoryID: id, parameters: parameters, in: storage)
    }

    /// The id of the key file `prefix` names (a whole id or a unique prefix).
    public func keyID(matching prefix: String) throws -> String {
        let ids = try keyFiles().map(\.id)
        let matches = ids.filter { $0.hasPrefix(prefix.lowercased()) }
        guard matches.count == 1, !prefix.isEmpty else {
            throw VeloError(
                matches.isEmpty
                    ? "\(root): no key file \(prefix)" : "\(root): \(prefix) names \(matches.count) key files; give more of its id")
        }
        return matches[0]
    }

    /// Removes the key file `id`; the one the password opened is refused (another password's key file must be used
    /// to remove it), so a repository always keeps the key file it was just opened with.
    public func removeKey(_ id: String) throws {
        _ = try requireEncrypted()
        guard id != keyFile?.id else {
            throw VeloError(
                "\(root): key file \(id) is the one the password opened; open the repository with another key file's password to remove it")
        }
        guard try storage.stat(.key(id)) != nil else { throw VeloError("\(root): no key file \(id)") }
        try storage.remove(.key(id))
    }

    /// Changes the password: a key file for `password` is added, then the one the current password opened is
    /// removed. No other object changes.
    public func changePassword(to password: [UInt8], parameters: ScryptParameters? = nil) throws -> KeyFile {
        let added = try addKey(password: password, parameters: parameters)
        if let old = keyFile { try storage.remove(.key(old.id)) }
        keyFile = added
        return added
    }
}
