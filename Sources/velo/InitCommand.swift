import ArgumentParser
import VeloKit

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a snapshot repository.")

    @OptionGroup var repository: RepositoryOption

    func run() throws {
        guard let path = repository.path else { throw VeloError("no repository given: pass --repo DIR or set VELO_REPO") }
        if Repository.exists(at: path) {
            print("\(try Repository.open(path).root): already a velo repository")
            return
        }
        print("\(try Repository.open(path, create: true).root): created an empty velo repository")
    }
}
