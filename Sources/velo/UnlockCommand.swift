import ArgumentParser
import VeloKit

struct UnlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Break a repository lock left by a velo process that is gone.")

    @OptionGroup var repository: RepositoryOption

    @Flag(name: .long, help: "Break the lock even if its owner seems alive (or ran on another host).")
    var force = false

    func run() throws {
        let repo = try repository.open()
        if let owner = try repo.unlock(force: force) {
            print("\(repo.root): removed the lock of \(owner.summary)")
        } else {
            print("\(repo.root): not locked")
        }
    }
}
