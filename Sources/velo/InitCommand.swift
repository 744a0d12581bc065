import ArgumentParser
import VeloKit

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a snapshot repository.")

    @OptionGroup var repository: RepositoryOption
    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        var repository: String
        var created: Bool
    }

    func run() throws {
        guard let path = repository.path else { throw VeloError("no repository given: pass --repo DIR or set VELO_REPO", kind: .usage) }
        let existed = Repository.exists(at: path)
        let root = try Repository.open(path, create: true).root  // on an existing one: completes its layout, removes litter
        if output.json { return try Output.json(Report(repository: root, created: !existed)) }
        print(existed ? "\(root): already a velo repository" : "\(root): created an empty velo repository")
    }
}
