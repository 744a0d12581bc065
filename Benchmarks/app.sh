#!/usr/bin/env bash
# Benchmarks `velo backup --app` on a demo app against backing its tenants up one by one, and prints a Markdown
# table (issue 13: --app with the default jobs within 0.6x the time of one `velo backup` per tenant; peak RSS
# at most 64 MiB per job).
#
#   Benchmarks/app.sh [--tenants N] [--posts N] [--files N] [--work DIR] [--keep] [--build-dir DIR] [--skip-build]
#
# Needs bash, swift, python3 and GNU time at /usr/bin/time. The table goes to stdout, progress to stderr.
set -euo pipefail
export LC_ALL=C

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TENANTS=200
POSTS=2000
FILES=3
WORK="$REPO_ROOT/bench-app-work"
BUILD_DIR="$REPO_ROOT/.build"
KEEP=0
SKIP_BUILD=0
TIME=/usr/bin/time

die() { echo "app-bench: $*" >&2; exit 1; }
say() { echo "app-bench: $*" >&2; }
absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

while [ $# -gt 0 ]; do
    case "$1" in
        --tenants) TENANTS="$2"; shift 2 ;;
        --posts) POSTS="$2"; shift 2 ;;
        --files) FILES="$2"; shift 2 ;;
        --work) WORK="$(absolute "$2")"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --build-dir) BUILD_DIR="$(absolute "$2")"; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) sed -n 2,8p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
[ -x "$TIME" ] || die "GNU time is needed at $TIME (Debian: apt-get install time)"
if [ "$SKIP_BUILD" -eq 0 ]; then
    say "building velo (release)"
    (cd "$REPO_ROOT" && swift build -c release --scratch-path "$BUILD_DIR" >&2)
fi
VELO="$BUILD_DIR/release/velo"
[ -x "$VELO" ] || die "no release build at $VELO"
rm -rf "$WORK"; mkdir -p "$WORK"
[ "$KEEP" -eq 1 ] || trap 'rm -rf "$WORK"' EXIT

say "making a demo app: $TENANTS tenants x $POSTS posts, $FILES files each"
"$VELO" demo --app "$WORK/app" --tenants "$TENANTS" --posts "$POSTS" --files "$FILES" -q >&2

# Runs a command under GNU time; prints "seconds peak_kib".
timed() { "$TIME" -f '%e %M' -o "$WORK/time.txt" "$@" >/dev/null; cat "$WORK/time.txt"; }

say "velo backup --app (default jobs)"
read -r APP_S APP_KIB < <(timed "$VELO" backup --app "$WORK/app" --repo "$WORK/repo-app" -q --json)
JOBS=$(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')
say "velo backup --app --jobs 1"
read -r ONE_S ONE_KIB < <(timed "$VELO" backup --app "$WORK/app" --repo "$WORK/repo-one" --jobs 1 -q --json)

say "one velo backup --db per tenant, in turn"
SEQ_START=$(date +%s.%N)
SEQ_KIB=0
for db in "$WORK"/app/database/tenants/*.sqlite; do
    read -r _ kib < <(timed "$VELO" backup --db "$db" --repo "$WORK/repo-seq" -q)
    [ "$kib" -gt "$SEQ_KIB" ] && SEQ_KIB=$kib
done
SEQ_S=$(python3 -c "import sys; print(f'{$(date +%s.%N) - $SEQ_START:.2f}')")

python3 - "$TENANTS" "$POSTS" "$FILES" "$JOBS" "$APP_S" "$APP_KIB" "$ONE_S" "$ONE_KIB" "$SEQ_S" "$SEQ_KIB" <<'PY'
import sys
tenants, posts, files, jobs = map(int, sys.argv[1:5])
app_s, app_kib, one_s, one_kib, seq_s, seq_kib = float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]), float(sys.argv[9]), int(sys.argv[10])
mib = lambda k: k / 1024
print(f"Demo app: {tenants} tenants x {posts} posts, {files} uploaded files each; {jobs} cores.\n")
print("| run | wall (s) | vs one by one | peak RSS (MiB) | peak RSS per job (MiB) |")
print("|---|---:|---:|---:|---:|")
print(f"| `velo backup --app` (default jobs: {jobs}) | {app_s:.2f} | {app_s/seq_s:.2f}x | {mib(app_kib):.1f} | {mib(app_kib)/jobs:.1f} |")
print(f"| `velo backup --app --jobs 1` | {one_s:.2f} | {one_s/seq_s:.2f}x | {mib(one_kib):.1f} | {mib(one_kib):.1f} |")
print(f"| {tenants} x `velo backup --db` in turn | {seq_s:.2f} | 1.00x | {mib(seq_kib):.1f} (largest call) | - |")
ok_time = app_s <= 0.6 * seq_s
ok_rss = mib(app_kib) / jobs <= 64
print(f"\ntarget: --app <= 0.6x one by one: {'PASS' if ok_time else 'MISS'} ({app_s/seq_s:.2f}x); peak RSS <= 64 MiB per job: {'PASS' if ok_rss else 'MISS'} ({mib(app_kib)/jobs:.1f} MiB)")
PY
