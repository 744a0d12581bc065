// VeloStorage: where a repository's objects live.
//
// One interface, RepositoryStorage (restic's backend, Litestream's replica client): save, save-if-absent,
// compare-and-delete, streamed create, load, ranged reads, stat, list, remove, leftovers of dead writers, and a
// change stamp for caches. Objects are named by kind and name (StoredName), and StoredName.relativePath is the
// one place a repository path is made. LocalStorage keeps them in a folder; S3Storage (S3/) in a bucket of any
// S3-compatible server, through S3Client (signed by S3RequestSigner, SigV4 written here) at the location an
// `s3:` text names (S3Location) with the credentials of the environment (S3Credentials). Both are held to the
// same conformance suite (Tests/VeloKitTests/Storage/StorageConformance.swift; S3's against SeaweedFS).
//
// It imports VeloFormat (for errors and durable file operations), swift-crypto and async-http-client, and knows
// nothing of what the objects hold: catalogs, archives and pieces are the repository's business.
