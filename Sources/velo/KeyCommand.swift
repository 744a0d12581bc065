import ArgumentParser
import Foundation
import VeloKit

/// `velo key`: the key files of an encrypted repository, one per password. Adding, changing or removing a
/// password writes or removes one small file; no snapshot is encrypted again.
struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "List, add, remove or change the passwords (key files) of an encrypted repository.",
        discussion: """
            Each password has a key file in keys/ that wraps the repository's master key (scrypt, calibrated to at most 0.4 s on the machine that writes it). Changing passwords never re-encrypts data. The new password is read from --new-password-file, or asked twice on a terminal; the current one as for every command (--password-file, VELO_PASSWORD_FILE, VELO_PASSWORD_COMMAND, a prompt).
            """,
        subcommands: [List.self, Add.self, Remove.self, Passwd.self])

    /// `--new-password-file`, else a prompt on a terminal.
    struct NewPasswordOption: ParsableArguments {
        @Option(
            name: .long,
            help: ArgumentHelp("The new password: this file's first line (default: asked twice on a terminal).", valueName: "path"),
            completion: .file())
        var newPasswordFile: String?

        func read() throws -> [UInt8] {
            if let newPasswordFile { return try PasswordSource.file(newPasswordFile).readNew() }
            guard let terminal = PasswordSource.terminal() else {
                throw VeloError("no new password given: pass --new-password-file PATH, or run on a terminal", kind: .usage)
            }
            return try terminal.readNew()
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the key files.")

        @OptionGroup var repository: RepositoryOption
        @OptionGroup var output: OutputOptions

        func run() throws {
            let keys = try repository.open().keyFiles()
            if output.json { return try Output.json(keys) }
            print("   ID                CREATED               HOST          USER      SCRYPT")
            for key in keys {
                if let damage = key.damage {
                    print("   \(key.id)  DAMAGED: \(damage)")
                    continue
                }
                let scrypt = "n \(key.n ?? 0), r \(key.r ?? 0), p \(key.p ?? 0) (\(Output.bytes(Int64(key.memoryBytes ?? 0))))"
                print(
                    "\(key.current ? " * " : "   ")\(key.id)  \(key.created ?? "")  \(KeyCommand.pad(key.host ?? "", 12))  \(KeyCommand.pad(key.user ?? "", 8))  \(scrypt)"
                )
            }
        }
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a password (a new key file).")

        @OptionGroup var repository: RepositoryOption
        @OptionGroup var newPassword: NewPasswordOption
        @OptionGroup var output: OutputOptions

        func run() throws {
            let repo = try repository.open()
            let added = try repo.addKey(password: try newPassword.read())
            if output.json { return try Output.json(["added": added.id]) }
            print("key file \(added.id) added (scrypt n \(added.scrypt.n), r \(added.scrypt.r), p \(added.scrypt.p))")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove", abstract: "Remove a password's key file (not the one the current password opens).")

        @OptionGroup var repository: RepositoryOption
        @Argument(help: ArgumentHelp("The key file's id, or a unique prefix of it.", valueName: "id"))
        var id: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let repo = try repository.open()
            let key = try repo.keyID(matching: id)
            try repo.removeKey(key)
            if output.json { return try Output.json(["removed": key]) }
            print("key file \(key) removed")
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "passwd", abstract: "Change the current password: a new key file replaces the one it opens.")

        @OptionGroup var repository: RepositoryOption
        @OptionGroup var newPassword: NewPasswordOption
        @OptionGroup var output: OutputOptions

        func run() throws {
            let repo = try repository.open()
            let old = repo.keyFile?.id
            let added = try repo.changePassword(to: try newPassword.read())
            if output.json { return try Output.json(["added": added.id, "removed": old ?? ""]) }
            print("password changed: key file \(added.id) added, \(old ?? "?") removed")
        }
    }
}
