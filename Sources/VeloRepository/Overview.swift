// VeloRepository: a repository of snapshots on a storage, and every way of reading a snapshot back.
//
// - Repository/   Repository (open, locks, removal, recovery of what a killed writer left), the catalog and
//                 its cache, locks as stored objects, archives as stored objects (StoredArchive), selecting a
//                 snapshot (id, prefix, latest under filters, a lone archive file), SnapshotReader and
//                 ArchiveAudit (a streamed, checked read of either format).
// - Incremental/  format 2's pieces: packs of zstd frames and segment lists, written and read through the
//                 storage (PieceStore, PackWriter), the reader that rebuilds a snapshot's entries from them
//                 (SegmentedArchiveReader), and prune's mark and sweep (PieceSweep).
//
// It imports VeloFormat and VeloStorage, never the operations: backups, restores and the rest (VeloKit) are
// written against it. Nothing here builds a repository path; objects are named by StoredName.
