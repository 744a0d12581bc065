#include <sqlite3.h>

/// Turns off SQLite's memory statistics, which take a global mutex on every allocation. Must run before
/// SQLite initialises (velo calls it before opening its first connection); sqlite3_config is variadic,
/// which Swift cannot call directly.
static inline int velo_sqlite3_configure(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
