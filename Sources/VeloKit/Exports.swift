// Re-exports the layers below VeloKit (see Overview.swift): a client imports VeloKit alone and sees them all.
@_exported import VeloFormat
@_exported import VeloRepository
@_exported import VeloStorage
