// VeloFormat: the format layer, at the bottom of velo's library.
//
// What a snapshot is made of and how its bytes are read and written, with nothing of where they are kept:
// - SQLite/     the SQLite C API behind small types (Database, Statement, SQLiteValue, SQLiteSchema).
// - Veloquent/  what a Veloquent database holds: collections, fields, system tables, migrations, tenants.
// - Archive/    format 1, the self-contained archive: header, manifest, rows as records, the tar.zst writer and
//               reader (libarchive, libzstd), fed by an ArchiveInput and writing to an ArchiveOutput, so that a
//               file and a stored object are read and written alike.
// - Support/    what every layer uses: JSON, errors (VeloError, ErrorKind, Remedy, ClientText), timestamps,
//               progress, interruption, durable file operations, the bounded PipelineStage.
//
// It imports no other velo target. Storage, the repository and the operations build on it (Package.swift
// lists the layers); nothing here may name a repository, a command-line flag or an HTTP status.
