// VeloStorage: where a repository's objects live.
//
// One interface, RepositoryStorage (restic's backend, Litestream's replica client): save, save-if-absent,
// compare-and-delete, streamed create, load, ranged reads, stat, list, remove, leftovers of dead writers, and a
// change stamp for caches. Objects are named by kind and name (StoredName), and StoredName.relativePath is the
// one place a repository path is made. LocalStorage keeps them in a folder; an object store is one more
// implementation, held to the same conformance suite (Tests/VeloKitTests/Storage/StorageConformance.swift).
//
// It imports only VeloFormat (for errors and durable file operations) and knows nothing of what the objects
// hold: catalogs, archives and pieces are the repository's business.
