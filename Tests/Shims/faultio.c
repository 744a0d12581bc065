/* An LD_PRELOAD shim for velo's I/O tests: it fails writes or fsyncs on chosen files, and logs the durable
 * operations (fsync, rename, link, unlink) in order, so a test can check what velo makes durable and when.
 *
 *   FAULTIO_LOG=PATH       append "fsync PATH", "rename FROM TO", "link FROM TO", "unlink PATH" lines to PATH
 *   FAULTIO_WRITE=TEXT     write/pwrite to a file whose path contains TEXT fail with EIO
 *   FAULTIO_FSYNC=TEXT     fsync/fdatasync of a file whose path contains TEXT fail with EIO
 *   FAULTIO_KILL=TEXT      SIGKILL the process just before a rename whose destination, or an unlink whose path,
 *                          contains TEXT (after FAULTIO_KILL_SKIP=N such operations, default 0): a kill -9 there
 *
 * Built by the tests themselves with the system C compiler; not part of the product. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void fd_path(int fd, char *out, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, size - 1);
    out[n < 0 ? 0 : n] = 0;
}

static void log_line(const char *op, const char *a, const char *b) {
    const char *path = getenv("FAULTIO_LOG");
    if (!path) return;
    static ssize_t (*real_write)(int, const void *, size_t);
    if (!real_write) real_write = dlsym(RTLD_NEXT, "write");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    char line[8192];
    int n = snprintf(line, sizeof line, "%s %s%s%s\n", op, a, b ? " " : "", b ? b : "");
    if (n > 0) real_write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    close(fd);
}

static int matches(int fd, const char *variable) {
    const char *text = getenv(variable);
    if (!text || !*text) return 0;
    char path[4096];
    fd_path(fd, path, sizeof path);
    return strstr(path, text) != NULL;
}

ssize_t write(int fd, const void *buf, size_t count) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = dlsym(RTLD_NEXT, "write");
    if (fd > 2 && matches(fd, "FAULTIO_WRITE")) { errno = EIO; return -1; }
    return real(fd, buf, count);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) real = dlsym(RTLD_NEXT, "pwrite64");
    if (matches(fd, "FAULTIO_WRITE")) { errno = EIO; return -1; }
    return real(fd, buf, count, offset);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    return pwrite64(fd, buf, count, offset);
}

static int sync_common(int fd, const char *name) {
    char path[4096];
    fd_path(fd, path, sizeof path);
    if (matches(fd, "FAULTIO_FSYNC")) { log_line("fsync-failed", path, NULL); errno = EIO; return -1; }
    int (*real)(int) = dlsym(RTLD_NEXT, name);
    int rc = real(fd);
    if (rc == 0) log_line("fsync", path, NULL);
    return rc;
}

int fsync(int fd) { return sync_common(fd, "fsync"); }
int fdatasync(int fd) { return sync_common(fd, "fdatasync"); }

static void maybe_kill(const char *path) {
    static int seen;
    const char *text = getenv("FAULTIO_KILL");
    if (!text || !*text || !strstr(path, text)) return;
    const char *skip = getenv("FAULTIO_KILL_SKIP");
    if (seen++ < (skip ? atoi(skip) : 0)) return;
    kill(getpid(), SIGKILL);
}

int rename(const char *from, const char *to) {
    static int (*real)(const char *, const char *);
    if (!real) real = dlsym(RTLD_NEXT, "rename");
    maybe_kill(to);
    int rc = real(from, to);
    if (rc == 0) log_line("rename", from, to);
    return rc;
}

int link(const char *from, const char *to) {
    static int (*real)(const char *, const char *);
    if (!real) real = dlsym(RTLD_NEXT, "link");
    int rc = real(from, to);
    if (rc == 0) log_line("link", from, to);
    return rc;
}

int unlink(const char *path) {
    static int (*real)(const char *);
    if (!real) real = dlsym(RTLD_NEXT, "unlink");
    maybe_kill(path);
    int rc = real(path);
    if (rc == 0) log_line("unlink", path, NULL);
    return rc;
}
