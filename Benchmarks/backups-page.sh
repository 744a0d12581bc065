#!/usr/bin/env bash
# Benchmarks velo serve's backups page (issue 28): its weight (HTML, CSS, JavaScript and the download worker, as served) and the first
# render of its overview over a repository of SOURCES sources in headless Chromium, and prints a Markdown table.
#
#   Benchmarks/backups-page.sh [--sources N] [--runs N] [--work DIR] [--keep] [--build-dir DIR] [--skip-build]
#
# Needs bash, swift, curl, python3 with selenium, and Debian's chromium and chromium-driver. Each source is a small
# demo tenant database (10 posts) with one snapshot; the first render is the time, read in the page, from the start
# of navigation (the token already in sessionStorage) until the overview shows every source, median of --runs.
set -euo pipefail
export LC_ALL=C

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOURCES=200
RUNS=5
WORK="$REPO_ROOT/bench-page-work"
BUILD_DIR="$REPO_ROOT/.build"
KEEP=0
SKIP_BUILD=0

die() { echo "page-bench: $*" >&2; exit 1; }
say() { echo "page-bench: $*" >&2; }
absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

while [ $# -gt 0 ]; do
    case "$1" in
        --sources) SOURCES="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --work) WORK="$(absolute "$2")"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --build-dir) BUILD_DIR="$(absolute "$2")"; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) sed -n 2,9p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
for tool in curl python3 /usr/bin/chromium /usr/bin/chromedriver; do command -v "$tool" >/dev/null || die "$tool is needed"; done
python3 -c 'import selenium' 2>/dev/null || die "selenium is needed (pip install selenium)"
if [ "$SKIP_BUILD" -eq 0 ]; then
    say "building velo (release)"
    (cd "$REPO_ROOT" && swift build -c release --scratch-path "$BUILD_DIR" --product velo >&2)
fi
VELO="$BUILD_DIR/release/velo"
[ -x "$VELO" ] || die "no release build at $VELO"

rm -rf "$WORK"; mkdir -p "$WORK/home" "$WORK/sources"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [ "$KEEP" -eq 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/cache" TMPDIR="$WORK"

say "making $SOURCES sources, one snapshot each"
"$VELO" demo --out "$WORK/sources/tenant-1.sqlite" --posts 10 -q >&2
for i in $(seq 2 "$SOURCES"); do cp "$WORK/sources/tenant-1.sqlite" "$WORK/sources/tenant-$i.sqlite"; done
for i in $(seq 1 "$SOURCES"); do "$VELO" backup --db "$WORK/sources/tenant-$i.sqlite" --repo "$WORK/repo" -q > /dev/null; done
PASSWORD="a benchmark password"
HASH=$(python3 -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)).replace("$2b$", "$2y$", 1))' "$PASSWORD" 2>/dev/null) \
    || die "python3 cannot make a bcrypt hash"
sqlite3 "$WORK/sources/tenant-1.sqlite" "UPDATE superusers SET password = '$HASH'"

"$VELO" serve --db "$WORK/sources/tenant-1.sqlite" --repo "$WORK/repo" --listen 127.0.0.1:0 2> "$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q 'address=127.0.0.1:' "$WORK/serve.log" && break; sleep 0.1; done
PORT=$(grep -o 'address=127.0.0.1:[0-9]*' "$WORK/serve.log" | head -1 | cut -d: -f2)
[ -n "$PORT" ] || die "velo serve did not start: $(cat "$WORK/serve.log")"
BASE="http://127.0.0.1:$PORT"
IDENTITY=$(sqlite3 "$WORK/sources/tenant-1.sqlite" "SELECT email FROM superusers ORDER BY rowid LIMIT 1")

WEIGHT=0
for file in "" /page.css /page.js /download-worker.js; do
    WEIGHT=$((WEIGHT + $(curl -s "$BASE/_/backups$file" | wc -c)))
done
TOKEN=$(curl -s "$BASE/api/collections/superusers/auth/login" -H 'Content-Type: application/json' \
    -d "{\"identity\":\"$IDENTITY\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])')
route_ms() { curl -s -o /dev/null -w '%{time_total}' "$BASE/api/$1" -H "Authorization: Bearer $TOKEN" | awk '{printf "%.0f", $1 * 1000}'; }
STATUS_MS=$(route_ms backups/status); LIST_MS=$(route_ms backups)
say "rendering the overview in headless Chromium, $RUNS times"
RENDER=$(python3 "$REPO_ROOT/Benchmarks/overview_render.py" "$BASE" "$IDENTITY" "$PASSWORD" "$SOURCES" "$RUNS")
MEDIAN=$(python3 -c 'import json,sys; print("%.0f" % json.loads(sys.argv[1])["median_ms"])' "$RENDER")
ALL=$(python3 -c 'import json,sys; print(", ".join("%.0f" % t for t in json.loads(sys.argv[1])["runs_ms"]))' "$RENDER")

cat <<EOF2
### The backups page: $SOURCES sources (release build, headless Chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'))

| measure | value | target |
|---|---:|---|
| page weight (HTML + CSS + JavaScript + the download worker, as served) | $((WEIGHT / 1024)) KiB ($WEIGHT bytes) | ≤ 100 KiB |
| first render of the overview, $SOURCES sources (median of $RUNS; runs: $ALL ms) | $MEDIAN ms | ≤ 1 s |
| \`GET /api/backups/status\`, \`GET /api/backups\` (once, after the render) | $STATUS_MS ms, $LIST_MS ms | |
EOF2
