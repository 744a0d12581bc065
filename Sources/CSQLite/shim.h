#include <sqlite3.h>

/// Turns off SQLite's memory statistics, which take a global mutex on every allocation. Must run before
/// SQLite initialises (velo calls it before opening its first connection); sqlite3_config is variadic,
/// which Swift cannot call directly.
static inline int velo_sqlite3_configure(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/// Keeps a connection from checkpointing (and deleting the write-ahead log) when it closes: velo's capture
/// connections must leave the log as they found it, so the next `velo replicate` carries on from its frames.
/// sqlite3_db_config is variadic, which Swift cannot call directly.
static inline int velo_sqlite3_no_checkpoint_on_close(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}

/// Runs a checkpoint of `mode` (SQLITE_CHECKPOINT_PASSIVE...) and reports the log's frames and how many of them
/// are now in the database file.
static inline int velo_sqlite3_checkpoint(sqlite3 *db, int mode, int *log, int *done) {
    return sqlite3_wal_checkpoint_v2(db, "main", mode, log, done);
}

/// Reads `amount` bytes of the database file at `offset` through the connection's own file descriptor. velo
/// copies a source's file this way (a capture's base) instead of opening it again: closing a second descriptor
/// of the file would drop every POSIX lock the process holds on it (sqlite.org/howtocorrupt.html, 2.2).
/// Returns SQLITE_IOERR_SHORT_READ past the end (the rest of the buffer zero-filled).
static inline int velo_sqlite3_read_database_file(sqlite3 *db, void *buffer, int amount, sqlite3_int64 offset) {
    sqlite3_file *file = 0;
    int rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file);
    if (rc != SQLITE_OK || file == 0 || file->pMethods == 0) return SQLITE_ERROR;
    return file->pMethods->xRead(file, buffer, amount, offset);
}

/// The database file's size, through the connection's own file descriptor.
static inline int velo_sqlite3_database_file_size(sqlite3 *db, sqlite3_int64 *size) {
    sqlite3_file *file = 0;
    int rc = sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file);
    if (rc != SQLITE_OK || file == 0 || file->pMethods == 0) return SQLITE_ERROR;
    return file->pMethods->xFileSize(file, size);
}
