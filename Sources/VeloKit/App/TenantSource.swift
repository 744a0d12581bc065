import VeloFormat
import VeloRepository
import VeloStorage

/// One thing `velo backup --app` backs up: the landlord database, a tenant (its database and its uploaded
/// files), or the one database of a single-tenant app. Each is its own source in the repository (its own
/// retention group), named by its database path, its kind and, for a tenant, its id and name.
package struct TenantSource: Sendable {
    package enum Kind: String, Sendable {
        case landlord, tenant
        case singleTenant = "single-tenant"
    }

    package var kind: Kind
    /// The landlord's row for the tenant (the virtual tenant 1, "Default Tenant", in single-tenant mode); nil
    /// for the landlord.
    package var tenant: Tenant?
    /// The SQLite file, when the source is SQLite.
    package var databasePath: String?
    /// The tenant's storage disk as the app configures it (`storage/tenants/{id}/app`, or its prefix of the
    /// app's bucket); nil for the landlord. A tenant's own bucket (its storage settings) replaces it when the
    /// tenant is backed up or restored.
    package var uploads: (any UploadsDisk)?
    /// Why velo cannot back this source up (not SQLite, a storage disk it cannot find), or nil when it can.
    package var notCovered: String?

    /// How the source is named in reports and selected with `--tenants`/`--tenant`: the tenant's name, or
    /// `landlord`.
    package var label: String { tenant?.name ?? "landlord" }

    /// Whether `selector` (a name, domain or id, case-insensitively for names) picks this source.
    package func matches(_ selector: String) -> Bool {
        guard let tenant else { return selector.lowercased() == "landlord" }
        return tenant.name.lowercased() == selector.lowercased() || tenant.domain?.lowercased() == selector.lowercased()
            || String(tenant.id) == selector
    }
}
