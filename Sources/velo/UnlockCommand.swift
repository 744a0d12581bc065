import ArgumentParser
import VeloKit

struct UnlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Break a repository lock left by a velo process that is gone.")

    @OptionGroup var repository: RepositoryOption

    @Flag(name: .long, help: "Break the lock even if its owner seems alive (or ran on another host).")
    var force = false

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        var repository: String
        /// The owner of the lock that was removed, or nil when the repository was not locked.
        var removed: String?
    }

    func run() throws {
        let repo = try repository.open()
        let owner = try repo.unlock(force: force)
        if output.json { return try Output.json(Report(repository: repo.root, removed: owner?.summary)) }
        print(owner.map { "\(repo.root): removed the lock of \($0.summary)" } ?? "\(repo.root): not locked")
    }
}
