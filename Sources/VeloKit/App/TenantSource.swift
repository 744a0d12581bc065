import VeloFormat
import VeloRepository
import VeloStorage

/// One thing `velo backup --app` backs up: the landlord database, a tenant (its database and its uploaded
/// files), or the one database of a single-tenant app. Each is its own source in the repository (its own
/// retention group), named by its database path, its kind and, for a tenant, its id and name.
package struct TenantSource: Sendable, Equatable {
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
    /// The tenant's local storage disk root (`storage/tenants/{id}/app`), nil for the landlord or files on S3.
    package var filesRoot: String?
    /// Why velo cannot back this source up (not SQLite, uploads on S3), or nil when it can.
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
