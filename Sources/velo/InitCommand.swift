import ArgumentParser
import VeloKit

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a snapshot repository.")

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var encryption: EncryptOption
    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        var repository: String
        var created: Bool
        var encrypted: Bool
    }

    func run() throws {
        guard let path = repository.path else { throw VeloError("no repository given: pass --repo DIR or set VELO_REPO", kind: .usage) }
        let existed = Repository.exists(at: path)
        // On an existing one: completes its layout, removes litter.
        let opened = try repository.open(create: true, encrypt: encryption.encrypt)
        let root = opened.root
        let encrypted = opened.isEncrypted
        if output.json { return try Output.json(Report(repository: root, created: !existed, encrypted: encrypted)) }
        let kind = encrypted ? "encrypted" : "unencrypted"
        print(existed ? "\(root): already a velo repository (\(kind))" : "\(root): created an empty \(kind) velo repository")
        if let key = opened.keyFile, !existed {
            print("key file \(key.id) added (scrypt n \(key.scrypt.n), r \(key.scrypt.r), p \(key.scrypt.p))")
        }
    }
}
