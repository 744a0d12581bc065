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
