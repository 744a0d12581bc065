#!/usr/bin/env bash
# Benchmarks encrypted repositories against unencrypted ones, side by side in one run on a local folder, and
# prints a Markdown table (issue 26).
#
#   Benchmarks/encryption.sh [--posts N] [--text words|random] [--runs N] [--work DIR] [--keep] [--build-dir DIR] [--skip-build]
#
# Needs bash, swift, sqlite3, python3 and GNU time at /usr/bin/time. Each figure is the median of --runs runs, the
# encrypted and unencrypted runs taken in turn; RSS is the largest peak of them. Every command on an encrypted repository first derives its key from the
# password (scrypt, calibrated to at most 0.4 s when the key file is made): the table gives that derivation on its
# own (opening the encrypted repository, still empty, against an empty plain one) and each encrypted figure both as
# measured and less that derivation.
set -euo pipefail
export LC_ALL=C

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POSTS=250000
TEXT=words
RUNS=3
WORK="$REPO_ROOT/bench-encryption-work"
BUILD_DIR="$REPO_ROOT/.build"
KEEP=0
SKIP_BUILD=0
TIME=/usr/bin/time

die() { echo "encryption-bench: $*" >&2; exit 1; }
say() { echo "encryption-bench: $*" >&2; }
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
        -h|--help) sed -n 2,11p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
for tool in sqlite3 python3; do command -v "$tool" >/dev/null || die "$tool is needed"; done
[ -x "$TIME" ] || die "GNU time is needed at $TIME (Debian: apt-get install time)"
if [ "$SKIP_BUILD" -eq 0 ]; then
    say "building velo (release)"
    (cd "$REPO_ROOT" && swift build -c release --scratch-path "$BUILD_DIR" --product velo >&2)
fi
VELO="$BUILD_DIR/release/velo"
[ -x "$VELO" ] || die "no release build at $VELO"

rm -rf "$WORK"; mkdir -p "$WORK/home"
cleanup() { [ "$KEEP" -eq 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/cache" TMPDIR="$WORK"
printf 'a long benchmark passphrase\n' > "$WORK/password"
export VELO_PASSWORD_FILE="$WORK/password"

say "making the demo database: $POSTS posts, $TEXT text"
"$VELO" demo --out "$WORK/tenant.sqlite" --posts "$POSTS" --text "$TEXT" -q >&2
touch -d '1 hour ago' "$WORK/tenant.sqlite"
DB_BYTES=$(stat -c %s "$WORK/tenant.sqlite")

declare -A WALL RSS OWN
# The "seconds" a command's --json report gives (its own work, after the repository is opened), or nothing.
own_seconds() { python3 -c 'import json,sys
try:
    d=json.load(open(sys.argv[1])); d=d[0] if isinstance(d,list) else d; print(d["seconds"])
except Exception: pass' "$1"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) printf "%.3f\n", a[int((NR+1)/2)]}'; }
declare -A RUNS_WALL RUNS_OWN RUNS_CPU PEAK CPU
# One run of a command under GNU time: its wall time, CPU seconds (user + system), peak RSS and own seconds are
# added to the runs of NAME.
run_once() {
    local name="$1"; shift
    "$TIME" -f "%e %M %U %S" -o "$WORK/time.txt" "$@" > "$WORK/$name.out" 2>> "$WORK/stderr.log" || die "$name failed: $* (see $WORK/stderr.log)"
    local wall kib user system
    read -r wall kib user system < "$WORK/time.txt"
    RUNS_WALL[$name]+="$wall "
    RUNS_CPU[$name]+="$(awk -v u="$user" -v s="$system" 'BEGIN {print u + s}') "
    RUNS_OWN[$name]+="$(own_seconds "$WORK/$name.out") "
    [ "$kib" -gt "${PEAK[$name]:-0}" ] && PEAK[$name]=$kib
    return 0
}
# The medians of NAME's runs.
summarize() {
    local name="$1"
    WALL[$name]=$(printf '%s\n' ${RUNS_WALL[$name]} | median)
    CPU[$name]=$(printf '%s\n' ${RUNS_CPU[$name]} | median)
    OWN[$name]=$(printf '%s\n' ${RUNS_OWN[$name]:-} | grep . | median || true)
    RSS[$name]=$((${PEAK[$name]} / 1024))
    say "$name: ${WALL[$name]} s (own ${OWN[$name]:--} s, cpu ${CPU[$name]} s), ${RSS[$name]} MiB"
}
# measure_pair NAME BEFORE_PLAIN BEFORE_ENC: runs the commands in the arrays PLAIN and ENC one after the other,
# RUNS times (each after its BEFORE function, or `:`), so that both see the same machine: on 2 shared cores a
# run minutes later can differ by more than encryption costs. Results go to NAME-plain and NAME-enc.
measure_pair() {
    local name="$1" before_plain="$2" before_enc="$3"
    for run in $(seq 1 "$RUNS"); do
        "$before_plain" "$run"; run_once "$name-plain" "${PLAIN[@]}"
        "$before_enc" "$run"; run_once "$name-enc" "${ENC[@]}"
    done
    summarize "$name-plain"; summarize "$name-enc"
}
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}x' if b > 0 else '-')" "$1" "$2"; }
less() { python3 -c "import sys; print(f'{max(0.0, float(sys.argv[1]) - float(sys.argv[2])):.2f}')" "$1" "$2"; }

say "key derivation"
# Measured on the encrypted repository the runs use, while it is empty: its key file's scrypt parameters are
# calibrated when it is made, and another key file's may differ.
"$VELO" init --repo "$WORK/empty-plain" -q > /dev/null
"$TIME" -f "%e %M" -o "$WORK/time.txt" "$VELO" init --repo "$WORK/enc" --encrypt -q > /dev/null
read -r INIT_WALL INIT_KIB < "$WORK/time.txt"
PLAIN=("$VELO" snapshots --repo "$WORK/empty-plain" --json); ENC=("$VELO" snapshots --repo "$WORK/enc" --json)
measure_pair open : :
KDF=$(less "${WALL[open-enc]}" "${WALL[open-plain]}")
SCRYPT=$(python3 -c 'import json,glob,sys
k=json.load(open(glob.glob(sys.argv[1]+"/keys/*.json")[0]))["kdf"]
n, r, p = k["n"], k["r"], k["p"]
print("n %d, r %d, p %d, %.0f MiB" % (n, r, p, 128 * r * (n + p + 2) / 1048576))' "$WORK/enc")

say "first backups"
fresh_plain() { rm -rf "$WORK/plain"; }
fresh_enc() { rm -rf "$WORK/enc/snapshots"/* "$WORK/enc/catalog"/* "$WORK/enc/data" "$WORK/cache"; }
PLAIN=("$VELO" backup --db "$WORK/tenant.sqlite" --repo "$WORK/plain" --json)
ENC=("$VELO" backup --db "$WORK/tenant.sqlite" --repo "$WORK/enc" --json)
measure_pair backup fresh_plain fresh_enc
# One snapshot each, then the rest side by side (the encrypted repository keeps its key file throughout).
fresh_plain; fresh_enc
"$VELO" backup --db "$WORK/tenant.sqlite" --repo "$WORK/plain" -q > /dev/null
"$VELO" backup --db "$WORK/tenant.sqlite" --repo "$WORK/enc" -q > /dev/null
sleep 2

PLAIN_BEFORE=$(du -sb "$WORK/plain" | cut -f1); ENC_BEFORE=$(du -sb "$WORK/enc" | cut -f1)
measure_pair unchanged : :
PLAIN_ADDED=$(( ($(du -sb "$WORK/plain" | cut -f1) - PLAIN_BEFORE) / RUNS / 1024 ))
ENC_ADDED=$(( ($(du -sb "$WORK/enc" | cut -f1) - ENC_BEFORE) / RUNS / 1024 ))

update_one_percent() {
    sqlite3 "$WORK/tenant.sqlite" "UPDATE _velo_posts SET title = title || ' (edited $1)' WHERE rowid % 100 = $1 % 100"
    touch -d '1 hour ago' "$WORK/tenant.sqlite"
}
# Each update is backed up into both repositories, one after the other, so that both keep the same history (what a
# snapshot's verify and restore read depends on the updates before it).
for run in $(seq 1 "$RUNS"); do
    update_one_percent "$run"
    run_once update-plain "$VELO" backup --db "$WORK/tenant.sqlite" --repo "$WORK/plain" --json
    run_once update-enc "$VELO" backup --db "$WORK/tenant.sqlite" --repo "$WORK/enc" --json
done
summarize update-plain; summarize update-enc

say "restores and verifications"
remove_restored() { rm -f "$WORK/restored.sqlite" "$WORK/restored.sqlite-wal" "$WORK/restored.sqlite-shm"; }
PLAIN=("$VELO" restore latest --repo "$WORK/plain" --target "$WORK/restored.sqlite" --json)
ENC=("$VELO" restore latest --repo "$WORK/enc" --target "$WORK/restored.sqlite" --json)
measure_pair restore remove_restored remove_restored
PLAIN=("$VELO" verify latest --repo "$WORK/plain" --json); ENC=("$VELO" verify latest --repo "$WORK/enc" --json)
measure_pair verify : :

row() { # label name target
    local p="${WALL[$1-plain]}" e="${WALL[$1-enc]}" op="${OWN[$1-plain]:-}" oe="${OWN[$1-enc]:-}" net
    net=$(less "$e" "$KDF")
    echo "| $2 | $p s | $e s | $(ratio "$e" "$p") | $net s | $(ratio "$net" "$p") | ${op:--} / ${oe:--} s | $( [ -n "$op" ] && [ -n "$oe" ] && ratio "$oe" "$op" || echo -) | ${CPU[$1-plain]} / ${CPU[$1-enc]} s | $(ratio "${CPU[$1-enc]}" "${CPU[$1-plain]}") | $3 | ${RSS[$1-plain]} MiB | ${RSS[$1-enc]} MiB |"
}
cat <<EOF
### Encrypted against unencrypted (a local folder): $POSTS posts, $TEXT text, database $((DB_BYTES / 1048576)) MiB

Median of $RUNS runs, release build, same run, each encrypted run right after its unencrypted one; RSS is the
largest peak. "Net" is the encrypted wall time less the key derivation every command on an encrypted repository
does first (measured below); "own" is the seconds each command's --json report gives for its own work, once the
repository is open (both repositories alike); "CPU" is user + system seconds of the whole command, key derivation
included (steadier than wall time on shared cores).

| operation | unencrypted | encrypted | ratio | encrypted, net of key derivation | ratio | own seconds, unencrypted / encrypted | ratio | CPU seconds, unencrypted / encrypted | ratio | target | RSS unencrypted | RSS encrypted |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|
$(row backup "first backup" "≤ 1.10x")
$(row unchanged "unchanged backup (adds ${PLAIN_ADDED} KiB / ${ENC_ADDED} KiB)" "≤ 0.5 s, ≤ 64 KiB")
$(row update "1% update backup" "≤ 1.10x")
$(row restore "restore" "≤ 1.05x")
$(row verify "verify" "≤ 1.10x")

| key derivation | time | memory |
|---|---:|---:|
| opening the encrypted repository, still empty, less an empty plain one (scrypt $SCRYPT) | $KDF s (CPU $(less "${CPU[open-enc]}" "${CPU[open-plain]}") s) | ${RSS[open-enc]} MiB peak (plain: ${RSS[open-plain]} MiB) |
| \`velo init --encrypt\` (calibration, then the key file) | $INIT_WALL s | $((INIT_KIB / 1024)) MiB peak |
EOF
