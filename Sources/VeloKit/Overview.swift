// VeloKit: velo's operations, the library the CLI (Sources/velo) and the server (Sources/VeloServer) call.
//
// One folder a job: Backup (the one pipeline: a consistent read, rows and uploaded files into format 2 pieces
// or a format 1 archive, chosen in Backup.write), Export, Audit (verify, inspect, cat, diff), Restore (plan,
// then restore what the plan prepared), Retention (prune), App (whole apps and their tenants' files), Health
// (schema maintenance), Transfer (Veloquent's payload), Status and Schedule (rounds), Info, Demo.
//
// It builds on VeloRepository, VeloStorage and VeloFormat (re-exported by Exports.swift, so a client imports
// VeloKit alone). Errors are typed and worded without flags; each front door turns them into advice (the CLI's
// ErrorAdvice) or Veloquent's envelope (the server).
