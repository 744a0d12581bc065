#!/usr/bin/env bash
# Times `velo status` over a repository of many sources and snapshots (issue 13's scale: 200 sources × 1,000
# snapshots) and prints a Markdown table.
#
#   Benchmarks/status.sh [--sources N] [--snapshots M] [--work DIR] [--build-dir DIR] [--skip-build]
#
# The repository's catalog is generated (catalog entries as velo writes them, without archives: status reads
# only the catalog), then velo status runs: cold (no cache: every catalog entry is read, and the cache is
# written), warm (from the cache), and after a real backup into the same repository (the writer keeps the
# cache current). Needs bash, swift, python3 and GNU time at /usr/bin/time.
set -euo pipefail
export LC_ALL=C
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOURCES=200
SNAPSHOTS=1000
WORK="$REPO_ROOT/bench-work-status"
BUILD_DIR="$REPO_ROOT/.build"
SKIP_BUILD=0
while [ $# -gt 0 ]; do
    case "$1" in
        --sources) SOURCES=$2; shift 2 ;;
        --snapshots) SNAPSHOTS=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --build-dir) BUILD_DIR=$2; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        *) echo "usage: Benchmarks/status.sh [--sources N] [--snapshots M] [--work DIR] [--build-dir DIR] [--skip-build]" >&2; exit 64 ;;
    esac
done
if [ "$SKIP_BUILD" = 0 ]; then
    (cd "$REPO_ROOT" && swift build -c release --product velo --scratch-path "$BUILD_DIR" >&2)
fi
VELO="$BUILD_DIR/release/velo"
rm -rf "$WORK" && mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
"$VELO" init --repo "$WORK/repo" -q
echo "generating $SOURCES × $SNAPSHOTS catalog entries" >&2
python3 - "$WORK/repo/catalog" "$SOURCES" "$SNAPSHOTS" <<'PY'
import json, os, random, sys, datetime
folder, sources, snapshots = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(1)
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, minute=0)
seq = 0
for s in range(sources):
    for k in range(snapshots):
        seq += 1
        i = "%016x" % random.getrandbits(64)
        t = (now - datetime.timedelta(hours=snapshots - k)).strftime("%Y-%m-%dT%H:%M:%SZ")
        e = {"format": "velo-catalog-entry", "version": 1, "id": i, "time": t, "sequence": seq,
             "archive": "snapshots/x/%s.tar.zst" % i, "archive_bytes": 50_000_000 + 1000 * k, "archive_sha256": "0" * 64,
             "source": {"path": "/srv/app/database/tenants/velo_tenant_%03d.sqlite" % s, "kind": "tenant", "schema_version": None},
             "tags": ["scheduled"], "collections": ["comments", "posts", "users"], "records": True,
             "rows": {"_velo_posts": 2000, "_velo_comments": 4000, "collections": 5, "superusers": 1},
             "seconds": 0.4, "verification": {"time": t, "ok": True, "problems": []} if k % 24 == 0 else None}
        with open(os.path.join(folder, i + ".json"), "w") as f:
            json.dump(e, f, indent=2)
PY
# The catalog is "settled" (velo persists a cache only for a catalog that has not changed for 2 s).
touch -d '1 minute ago' "$WORK/repo/catalog"
run() {  # run NAME: times velo status, prints "seconds peak-KiB"
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$VELO" status --repo "$WORK/repo" --json > "$WORK/status.json" || [ $? -le 2 ]
    tail -n 1 "$WORK/time"   # GNU time writes "Command exited with non-zero status N" first for a warning (1)
}
sync
cold=$(run); warm=$(run); warm2=$(run)
"$VELO" demo --out "$WORK/t.sqlite" --posts 2000 -q
# A writer takes the lock, whose clean-up pass must not read the whole catalog either (it uses the cache).
/usr/bin/time -f '%e %M' -o "$WORK/time" "$VELO" backup --db "$WORK/t.sqlite" --repo "$WORK/repo" -q > /dev/null
backup=$(tail -n 1 "$WORK/time")
after=$(run)
grep -q '"cached": true' "$WORK/status.json" || echo "warning: the status after the backup did not come from the cache" >&2
echo
echo "velo status over $SOURCES sources × $SNAPSHOTS snapshots ($((SOURCES * SNAPSHOTS)) catalog entries), release build:"
echo
echo "| command | wall s | peak RSS MiB |"
echo "|---|---|---|"
for pair in "cold (no cache: reads every entry, writes the cache)=$cold" "warm (cache)=$warm" "warm again=$warm2" "after a backup (the writer updated the cache)=$after" "velo backup of a 2,000-post tenant into this repository=$backup"; do
    name=${pair%%=*}; v=${pair#*=}
    printf '| %s | %s | %s |\n' "$name" "${v% *}" "$(( ${v#* } / 1024 ))"
done
