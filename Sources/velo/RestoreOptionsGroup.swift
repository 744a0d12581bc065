import ArgumentParser
import Foundation
import VeloKit

extension RestorePlan.Strategy: ExpressibleByArgument, CaseIterable {
    public static var allCases: [RestorePlan.Strategy] { [.skip, .overwrite] }
}

/// The selection and conflict flags `plan` and `restore` share.
struct RestoreOptionsGroup: ParsableArguments {
    @Option(
        name: .long,
        help: "For rows (and collection definitions) the target already has: skip keeps the target's, overwrite takes the archive's.")
    var conflict: RestorePlan.Strategy = .skip

    @Option(
        name: .long,
        help: ArgumentHelp("A strategy for one collection, e.g. posts=overwrite (repeatable).", valueName: "collection=strategy"))
    var conflictFor: [String] = []

    @Option(name: .long, help: ArgumentHelp("Restore only these collections and their pivot tables (comma-separated).", valueName: "a,b"))
    var collections: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "System tables to restore (default: superusers, email_templates, auth_tokens, otp_tokens, oauth_providers, oauth_accounts, settings).",
            valueName: "a,b"))
    var systemTables: String?

    @Flag(name: .long, help: "Restore no system tables.")
    var noSystemTables = false

    @Option(
        name: .long, help: ArgumentHelp("The database to restore into (a missing file is created).", valueName: "path"), completion: .file()
    )
    var target: String?

    func options() throws -> RestoreOptions {
        var options = RestoreOptions()
        options.conflict = conflict
        for item in conflictFor {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let s = RestorePlan.Strategy(rawValue: parts[1]) else {
                throw VeloError("--conflict-for \(item): expected COLLECTION=skip or COLLECTION=overwrite", kind: .usage)
            }
            options.conflictFor[parts[0]] = s
        }
        func list(_ text: String) -> [String] {
            text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        options.collections = collections.map(list)
        if noSystemTables && systemTables != nil {
            throw VeloError("--system-tables and --no-system-tables exclude each other", kind: .usage)
        }
        options.systemTables = noSystemTables ? [] : systemTables.map(list)
        return options
    }

    func targetPath() throws -> String {
        if let target, !target.isEmpty { return target }
        if let env = ProcessInfo.processInfo.environment["VELO_DB"], !env.isEmpty { return env }
        throw VeloError("no target given: pass --target PATH (or set VELO_DB)", kind: .usage)
    }
}
