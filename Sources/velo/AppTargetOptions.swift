import ArgumentParser
import Foundation
import VeloKit

/// `--tenant NAME --app DIR`, which `plan` and `restore` share: the tenant's snapshot, into the app's paths,
/// with its uploaded files.
struct AppTargetOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The tenant (name, domain or id, or 'landlord') whose newest snapshot is used when no snapshot is named (with --app), and whose newest 'latest' is.",
            valueName: "name"))
    var tenant: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Restore into this Veloquent app folder: the tenant's database and its uploaded files go where the app keeps them (a fresh folder gets Veloquent's layout).",
            valueName: "dir"), completion: .directory)
    var app: String?

    /// What a restore into an app works on.
    struct Resolved {
        var selected: SelectedSnapshot
        var target: TenantRestore.Target
        var manifest: Manifest
    }

    /// The snapshot (`snapshot`, else the tenant's newest at or before `time`) and where it goes.
    func resolve(app: String, snapshot: String?, at time: Int64?, repository: Repository?, filter: SnapshotFilter) throws -> Resolved {
        let selected: SelectedSnapshot
        if let snapshot {
            guard time == nil else { throw VeloError("name a snapshot or --at TIME (not both)", kind: .usage) }
            selected = try SelectedSnapshot.resolve(snapshot, repository: repository, filter: filter)
        } else {
            guard let tenant else { throw VeloError("name a snapshot or --tenant NAME", kind: .usage) }
            guard let repository else { throw VeloError("--tenant needs a repository: pass --repo DIR or set VELO_REPO", kind: .usage) }
            selected = .catalogued(try TenantRestore.snapshot(of: tenant, in: repository, at: time), repository: repository)
        }
        let header = try SnapshotReader(selected).header
        if let tenant, let origin = header.source.app, snapshot != nil {
            let names = [origin.tenantName, origin.tenantDomain, origin.tenantID.map(String.init)].compactMap { $0?.lowercased() }
            if !(names.contains(tenant.lowercased()) || (origin.tenantID == nil && tenant.lowercased() == "landlord")) {
                throw VeloError(
                    "snapshot \(SnapshotID.short(header.id)) is of \(origin.tenantName ?? "the landlord"), not \(tenant)", kind: .usage)
            }
        }
        let target = try TenantRestore.target(app: app, header: header, snapshot: selected)
        return Resolved(selected: selected, target: target, manifest: try TenantRestore.manifest(of: selected))
    }

    /// The files part of a plan, for people.
    static func render(_ plan: FilesRestore.Plan) -> String {
        var lines = [
            "files: \(plan.items.count) in the snapshot, into \(plan.root): \(plan.count(.add)) to add, \(plan.count(.unchanged)) unchanged, \(plan.count(.keep) + plan.count(.replace)) with other content (\(plan.strategy == .overwrite ? "replaced: overwrite" : "kept: skip"))"
        ]
        for item in plan.items where item.action != .unchanged {
            lines.append(
                "  \(item.action.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(item.path) (\(Output.bytes(item.bytes)))")
        }
        return lines.joined(separator: "\n")
    }
}
