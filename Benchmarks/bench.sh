#!/usr/bin/env bash
# Benchmarks velo against the plain tools on a demo Veloquent tenant database and prints a Markdown table.
#
#   Benchmarks/bench.sh [--posts N] [--text words|random] [--runs N] [--work DIR] [--keep] [--build-dir DIR] [--skip-build]
#
# Needs bash, swift, sqlite3, zstd, python3 and GNU time at /usr/bin/time (Debian: apt-get install time).
# The table goes to stdout; progress and build output go to stderr.
#
# Layout, for whoever adds sections (restore, plan, retention, ...):
#   - measure NAME [--before FUNC] [--stdout FILE] -- COMMAND...   runs COMMAND $RUNS times under /usr/bin/time,
#     records the median wall time in WALL[NAME] and the largest peak RSS (KiB) in RSS[NAME].
#   - a section is a function `section_<name>` that calls measure, then add_row / add_target.
#   - list the section in SECTIONS below; sections run in that order and share $WORK and the measurements of
#     earlier sections (section_backup leaves $WORK/dump.sql.zst, $WORK/repo-wal and $WORK/repo-delete with a --full
#     archive each, and $WORK/repo-wal-default and $WORK/repo-delete-default with a first incremental snapshot).
set -euo pipefail
export LC_ALL=C

SECTIONS=(backup verify restore transfer retention)   # add new sections here, e.g. (backup verify restore plan retention)
RUNS=3                     # timed runs per command; the table reports the median wall time and the max RSS

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POSTS=250000
TEXT=words
WORK="$REPO_ROOT/bench-work"
BUILD_DIR="$REPO_ROOT/.build"
KEEP=0
SKIP_BUILD=0
TIME=/usr/bin/time

usage() {
    cat <<EOF
usage: Benchmarks/bench.sh [options]

Builds velo, makes a demo tenant database and times velo backup, verify, restore, plan,
transfer and prune against the plain tools ('sqlite3 .dump | zstd', 'zstd -dc | sha256sum', the SQL replay,
'sqlite3 -json'). Prints a Markdown table and PASS/MISS targets.

  --posts N          posts in the demo database (default 250000)
  --text SHAPE       the demo's text: words (a short word list, compresses about 3.5x; default) or
                     random (random letters, compresses about 2.2x, the harder case)
  --work DIR         scratch directory (default: bench-work under the repo root); removed at the end
  --runs N           timed runs per command (default 3; the table reports the median): more runs steady
                     ratios near a target on a machine whose timings move
  --keep             keep the scratch directory
  --build-dir DIR    swift --scratch-path (default: .build under the repo root)
  --skip-build       use the velo already built in --build-dir
  -h, --help         this text
EOF
}

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

# Makes a path absolute against the directory the script was started from.
absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

parse_options() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --posts) [ $# -ge 2 ] || die "--posts needs a number"; POSTS="$2"; shift 2 ;;
            --posts=*) POSTS="${1#*=}"; shift ;;
            --text) [ $# -ge 2 ] || die "--text needs words or random"; TEXT="$2"; shift 2 ;;
            --text=*) TEXT="${1#*=}"; shift ;;
            --work) [ $# -ge 2 ] || die "--work needs a directory"; WORK="$(absolute "$2")"; shift 2 ;;
            --work=*) WORK="$(absolute "${1#*=}")"; shift ;;
            --build-dir) [ $# -ge 2 ] || die "--build-dir needs a directory"; BUILD_DIR="$(absolute "$2")"; shift 2 ;;
            --build-dir=*) BUILD_DIR="$(absolute "${1#*=}")"; shift ;;
            --runs) [ $# -ge 2 ] || die "--runs needs a number"; RUNS="$2"; shift 2 ;;
            --runs=*) RUNS="${1#*=}"; shift ;;
            --keep) KEEP=1; shift ;;
            --skip-build) SKIP_BUILD=1; shift ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
    done
    [[ "$POSTS" =~ ^[0-9]+$ ]] && [ "$POSTS" -gt 0 ] || die "--posts must be a positive whole number, not '$POSTS'"
    [ "$TEXT" = words ] || [ "$TEXT" = random ] || die "--text must be words or random, not '$TEXT'"
    [[ "$RUNS" =~ ^[0-9]+$ ]] && [ "$RUNS" -gt 0 ] || die "--runs must be a positive whole number, not '$RUNS'"
    WORK="${WORK%/}"; BUILD_DIR="${BUILD_DIR%/}"
    [ -n "$WORK" ] || die "--work must not be /"
}

check_tools() {
    local tool
    for tool in sqlite3 zstd python3; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
    done
    [ "$SKIP_BUILD" -eq 1 ] || command -v swift >/dev/null 2>&1 || die "swift is not installed"
    [ -x "$TIME" ] || die "GNU time is not at $TIME (Debian: apt-get install time)"
}

# --- work directory -------------------------------------------------------------------------------------------

MARKER=".velo-bench-work"   # only directories carrying this marker are ever emptied or removed

prepare_work() {
    if [ -e "$WORK" ]; then
        [ -d "$WORK" ] || die "--work $WORK exists and is not a directory"
        if [ -n "$(ls -A "$WORK")" ] && [ ! -e "$WORK/$MARKER" ]; then
            die "--work $WORK is not empty and was not made by this script; pick another directory"
        fi
        rm -rf "${WORK:?}"
    fi
    mkdir -p "$WORK"
    touch "$WORK/$MARKER"
    WORK="$(cd "$WORK" && pwd -P)"
    LOG="$WORK/commands.log"
    : > "$LOG"
}

cleanup() {
    local status=$?
    if [ "$KEEP" -eq 0 ] && [ -n "${WORK:-}" ] && [ -e "$WORK/$MARKER" ]; then
        rm -rf "${WORK:?}"
    elif [ -n "${WORK:-}" ] && [ -e "$WORK/$MARKER" ]; then
        say "kept $WORK"
    fi
    exit "$status"
}

# --- build ----------------------------------------------------------------------------------------------------

build() {
    VELO="$BUILD_DIR/release/velo"
    if [ "$SKIP_BUILD" -eq 0 ]; then
        say "building velo (swift build -c release --scratch-path $BUILD_DIR)"
        (cd "$REPO_ROOT" && swift build -c release --scratch-path "$BUILD_DIR") >&2
    fi
    [ -x "$VELO" ] || die "no velo at $VELO (build it, or drop --skip-build)"
}

# --- demo databases -------------------------------------------------------------------------------------------

make_databases() {
    DB="$WORK/tenant.sqlite"
    DB_WAL="$WORK/tenant-wal.sqlite"
    say "making a demo database with $POSTS posts ($TEXT text)"
    "$VELO" demo --out "$DB" --posts "$POSTS" --text "$TEXT" --force >>"$LOG" 2>&1 || fail_with_log "velo demo failed"
    cp "$DB" "$DB_WAL"
    local mode
    mode="$(sqlite3 "$DB_WAL" 'pragma journal_mode=wal')"
    [ "$mode" = "wal" ] || die "could not switch $DB_WAL to WAL mode (got '$mode')"
    mode="$(sqlite3 "$DB" 'pragma journal_mode')"
    [ "$mode" = "delete" ] || die "$DB is in journal mode '$mode', expected delete"
    DB_BYTES="$(stat -c %s "$DB")"
    # OS caches cannot be dropped without root, so warm both files instead: every run reads from the page cache.
    cat "$DB" > /dev/null
    cat "$DB_WAL" > /dev/null
}

# --- measuring ------------------------------------------------------------------------------------------------

declare -A WALL=()   # NAME -> median wall seconds
declare -A RSS=()    # NAME -> max peak RSS in KiB

fail_with_log() {
    echo "bench: $1; last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2 || true
    [ "$KEEP" -eq 1 ] || echo "bench: run again with --keep to keep $WORK" >&2
    exit 1
}

# median VALUE... : the middle value (the mean of the two middle values for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# max VALUE...
max() { printf '%s\n' "$@" | sort -g | tail -n 1; }

# measure NAME [--before FUNC] [--stdout FILE] -- COMMAND...
# Runs COMMAND $RUNS times under /usr/bin/time -f '%e %M'. FUNC runs (untimed) before each run. COMMAND's
# stdout goes to FILE (overwritten each run, so the last run's output stays) or /dev/null; its stderr to the log.
measure() {
    local name="$1"; shift
    local before="" stdout=/dev/null
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        case "$1" in
            --before) before="$2"; shift 2 ;;
            --stdout) stdout="$2"; shift 2 ;;
            *) die "measure $name: unknown option $1" ;;
        esac
    done
    [ "${1:-}" = "--" ] || die "measure $name: missing -- before the command"
    shift
    local run walls=() rsss=() timing wall rss timefile="$WORK/time.out"
    say "measuring $name ($RUNS runs)"
    for ((run = 1; run <= RUNS; run++)); do
        [ -z "$before" ] || "$before"
        echo "== $name, run $run: $*" >> "$LOG"
        "$TIME" -f '%e %M' -o "$timefile" "$@" >"$stdout" 2>>"$LOG" || fail_with_log "$name failed"
        timing="$(tail -n 1 "$timefile")"
        read -r wall rss <<<"$timing"
        [[ "$wall" =~ ^[0-9.]+$ && "$rss" =~ ^[0-9]+$ ]] || die "measure $name: cannot read '$timing' from $TIME"
        walls+=("$wall"); rsss+=("$rss")
    done
    WALL[$name]="$(median "${walls[@]}")"
    RSS[$name]="$(max "${rsss[@]}")"
    echo "== $name: wall ${walls[*]} s, peak RSS ${rsss[*]} KiB" >> "$LOG"
}

# json_field FILE KEY : one top-level field of a JSON object.
json_field() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# --- formatting -----------------------------------------------------------------------------------------------

ROWS=()      # Markdown table rows, in order
TARGETS=()   # "- PASS|MISS description" lines

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mbps() { awk -v bytes="$DB_BYTES" -v s="$1" 'BEGIN { if (s > 0) printf "%.1f", bytes / 1e6 / s; else print "-" }'; }
mib() { awk -v kib="$1" 'BEGIN { printf "%.1f", kib / 1024 }'; }

# add_row STEP NAME ARCHIVE_BYTES RATIO : a table row for measurement NAME.
add_row() {
    ROWS+=("| $1 | ${WALL[$2]} | $(mbps "${WALL[$2]}") | $3 | $(mib "${RSS[$2]}") | $4 |")
}

# add_target DESCRIPTION CONDITION DETAIL [REFERENCE_SECONDS]
# CONDITION is an awk expression, true for PASS. With REFERENCE_SECONDS of 0 (too fast for /usr/bin/time to
# measure) the verdict is n/a.
add_target() {
    local verdict=MISS
    if awk "BEGIN { exit !($2) }"; then verdict=PASS; fi
    local detail="$3"
    if [ -n "${4:-}" ] && awk -v s="$4" 'BEGIN { exit !(s <= 0) }'; then verdict="n/a"; detail="reference too fast to time"; fi
    TARGETS+=("- $verdict $1 ($detail)")
}

# A note when a measured time is so short that the 0.01 s resolution of /usr/bin/time makes its ratios noise.
resolution_note() {
    local name short=()
    for name in "${!WALL[@]}"; do
        if awk -v s="${WALL[$name]}" 'BEGIN { exit !(s < 0.1) }'; then short+=("$name"); fi
    done
    [ ${#short[@]} -eq 0 ] || echo "note: some steps took under 0.1 s; /usr/bin/time resolves 0.01 s, so their ratios are rough. Use more --posts."
}

# --- sections -------------------------------------------------------------------------------------------------

remove_repo_wal() { rm -rf "$WORK/repo-wal"; }
remove_repo_delete() { rm -rf "$WORK/repo-delete"; }
remove_repo_wal_default() { rm -rf "$WORK/repo-wal-default"; }
remove_repo_delete_default() { rm -rf "$WORK/repo-delete-default"; }

# measure_backup NAME REPO DB [OPTIONS...]: a backup into an empty repository each run (its first snapshot),
# with --verbose so that velo logs how long it held a rollback-journal source's read lock. Sets BYTES[NAME]
# (what the repository grew by, as velo reports it) and LOCK[NAME] (the longest lock of the runs).
declare -A BYTES=() LOCK=()
measure_backup() {
    local name="$1" repo="$2" db="$3"; shift 3
    local log_before
    log_before="$(wc -l < "$LOG")"
    measure "$name" --before "remove_$(basename "$repo" | tr - _)" --stdout "$WORK/$name.json" -- \
        "$VELO" backup --db "$db" --repo "$repo" --json --verbose "$@"
    BYTES[$name]="$(json_field "$WORK/$name.json" bytes)"
    LOCK[$name]="$(tail -n +"$((log_before + 1))" "$LOG" | sed -n 's/.*read lock released after \([0-9.]*\) s.*/\1/p' | sort -g | tail -n 1)"
    echo "== $name: snapshot $(json_field "$WORK/$name.json" id), ${BYTES[$name]} bytes" >> "$LOG"
}

section_backup() {
    # Reference A: a plain SQL dump, compressed like velo compresses (level 3), two zstd threads.
    measure dump -- sh -c 'sqlite3 "$1" .dump | zstd -3 -T2 -q > "$2"' sh "$DB" "$WORK/dump.sql.zst"
    # sh has no pipefail: make sure the dump is complete (it ends with COMMIT) before comparing with it.
    [ "$(zstd -dc "$WORK/dump.sql.zst" | tail -n 1)" = "COMMIT;" ] || die "sqlite3 .dump | zstd did not produce a complete dump"
    DUMP_BYTES="$(stat -c %s "$WORK/dump.sql.zst")"

    # The default (an incremental snapshot; its first one into an empty repository stores every row), then
    # --full (a self-contained format-1 archive), from each journal mode.
    measure_backup backup-wal-default "$WORK/repo-wal-default" "$DB_WAL"
    measure_backup backup-delete-default "$WORK/repo-delete-default" "$DB"
    measure_backup backup-wal "$WORK/repo-wal" "$DB_WAL" --full
    measure_backup backup-delete "$WORK/repo-delete" "$DB" --full
    [ -n "${LOCK[backup-delete]}" ] && [ -n "${LOCK[backup-delete-default]}" ] \
        || die "velo backup --verbose did not say how long it held the read lock"

    add_row 'sqlite3 .dump \| zstd -3 -T2' dump "$DUMP_BYTES" "1.00"
    local name label
    for name in backup-wal-default backup-delete-default backup-wal backup-delete; do
        case "$name" in
            backup-wal-default) label='velo backup (default: incremental, first snapshot; WAL source)' ;;
            backup-delete-default) label='velo backup (default: incremental, first snapshot; rollback-journal source)' ;;
            backup-wal) label='velo backup --full (WAL source)' ;;
            backup-delete) label='velo backup --full (rollback-journal source)' ;;
        esac
        add_row "$label" "$name" "${BYTES[$name]}" \
            "$(ratio "${WALL[$name]}" "${WALL[dump]}") (size $(ratio "${BYTES[$name]}" "$DUMP_BYTES"))"
    done

    add_target "backup time, default options (WAL) <= 0.7x dump pipeline" "${WALL[backup-wal-default]} <= 0.7 * ${WALL[dump]}" \
        "$(ratio "${WALL[backup-wal-default]}" "${WALL[dump]}")x" "${WALL[dump]}"
    add_target "backup time, default options (rollback journal) <= 0.7x dump pipeline" "${WALL[backup-delete-default]} <= 0.7 * ${WALL[dump]}" \
        "$(ratio "${WALL[backup-delete-default]}" "${WALL[dump]}")x" "${WALL[dump]}"
    add_target "backup --full time (WAL) <= 0.7x dump pipeline" "${WALL[backup-wal]} <= 0.7 * ${WALL[dump]}" \
        "$(ratio "${WALL[backup-wal]}" "${WALL[dump]}")x" "${WALL[dump]}"
    add_target "backup --full time (rollback journal) <= 0.7x dump pipeline" "${WALL[backup-delete]} <= 0.7 * ${WALL[dump]}" \
        "$(ratio "${WALL[backup-delete]}" "${WALL[dump]}")x" "${WALL[dump]}"
    # sqlite3 .dump holds its read lock until it has written the last row into the pipe, about the whole pipeline.
    local held
    held="$(max "${LOCK[backup-delete]}" "${LOCK[backup-delete-default]}")"
    add_target "read lock of a rollback-journal source held no longer than sqlite3 .dump's" "$held <= ${WALL[dump]}" \
        "velo at most ${LOCK[backup-delete-default]} s (default) and ${LOCK[backup-delete]} s (--full), sqlite3 .dump about ${WALL[dump]} s"
    add_target "archive size (--full) <= 1.0x dump.sql.zst" "${BYTES[backup-wal]} <= $DUMP_BYTES" \
        "$(ratio "${BYTES[backup-wal]}" "$DUMP_BYTES")x: ${BYTES[backup-wal]} vs $DUMP_BYTES bytes"
    add_target "repository growth of the first incremental snapshot <= 1.0x dump.sql.zst" "${BYTES[backup-wal-default]} <= $DUMP_BYTES" \
        "$(ratio "${BYTES[backup-wal-default]}" "$DUMP_BYTES")x: ${BYTES[backup-wal-default]} vs $DUMP_BYTES bytes (segment lists, and packs of independent 1 MiB frames)"
}

section_verify() {
    # Reference B: decompressing the dump and checksumming what comes out, the least a check of the archive has to
    # do (the project's decision: verify is held to `zstd -dc | sha256sum`, not to `zstd -dc` alone).
    measure unzstd -- sh -c "zstd -dc '$WORK/dump.sql.zst' | sha256sum > /dev/null"
    measure verify -- "$VELO" verify --repo "$WORK/repo-wal" latest
    measure verify-default -- "$VELO" verify --repo "$WORK/repo-wal-default" latest

    add_row 'zstd -dc dump.sql.zst \| sha256sum' unzstd "-" "1.00"
    add_row 'velo verify (the --full archive)' verify "-" "$(ratio "${WALL[verify]}" "${WALL[unzstd]}")"
    add_row 'velo verify (the incremental snapshot)' verify-default "-" "$(ratio "${WALL[verify-default]}" "${WALL[unzstd]}")"

    add_target "verify time <= 1.0x zstd -dc | sha256sum" "${WALL[verify]} <= ${WALL[unzstd]}" \
        "$(ratio "${WALL[verify]}" "${WALL[unzstd]}")x for the full archive, $(ratio "${WALL[verify-default]}" "${WALL[unzstd]}")x for the incremental snapshot" "${WALL[unzstd]}"
    local peak
    peak="$(max "${RSS[backup-wal]}" "${RSS[backup-delete]}" "${RSS[backup-wal-default]}" "${RSS[backup-delete-default]}" "${RSS[verify]}" "${RSS[verify-default]}")"
    add_target "backup and verify peak RSS <= 64 MiB" "$peak <= 64 * 1024" \
        "backup default $(mib "$(max "${RSS[backup-wal-default]}" "${RSS[backup-delete-default]}")"), --full $(mib "$(max "${RSS[backup-wal]}" "${RSS[backup-delete]}")"), verify $(mib "$(max "${RSS[verify]}" "${RSS[verify-default]}")") MiB"
}

# --- report ---------------------------------------------------------------------------------------------------

# Restore: into a new database against replaying the SQL dump; then a plan of the same snapshot against a fully
# populated target (the WAL source itself: every row is looked up and compared).
remove_restored() { rm -f "$WORK/restored.sqlite" "$WORK/restored.sqlite-wal" "$WORK/restored.sqlite-shm"; }
remove_replay() { rm -f "$WORK/replay.sqlite"; }
section_restore() {
    local id
    id="$("$VELO" snapshots --repo "$WORK/repo-wal" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
    measure replay --before remove_replay -- sh -c "zstd -dc '$WORK/dump.sql.zst' | sqlite3 '$WORK/replay.sqlite'"
    measure restore --before remove_restored -- "$VELO" restore "$id" --repo "$WORK/repo-wal" --target "$WORK/restored.sqlite"
    measure plan -- "$VELO" plan "$id" --repo "$WORK/repo-wal" --target "$WORK/tenant-wal.sqlite" --json
    measure restore-default --before remove_restored -- "$VELO" restore latest --repo "$WORK/repo-wal-default" --target "$WORK/restored.sqlite"
    add_row 'zstd -dc dump.sql.zst \| sqlite3 new.db' replay "-" "1.00"
    add_row 'velo restore (the --full archive, into a new database)' restore "-" "$(ratio "${WALL[restore]}" "${WALL[replay]}")"
    add_row 'velo restore (the incremental snapshot, into a new database)' restore-default "-" "$(ratio "${WALL[restore-default]}" "${WALL[replay]}")"
    add_row 'velo plan (against the fully populated source)' plan "-" "$(ratio "${WALL[plan]}" "${WALL[restore]}") of restore"
    add_target "restore into a new database <= 0.5x the SQL replay" "$(max "${WALL[restore]}" "${WALL[restore-default]}") <= 0.5 * ${WALL[replay]}" \
        "$(ratio "${WALL[restore]}" "${WALL[replay]}")x the full archive, $(ratio "${WALL[restore-default]}" "${WALL[replay]}")x the incremental snapshot" "${WALL[replay]}"
    add_target "plan <= 1.0x the restore" "${WALL[plan]} <= ${WALL[restore]}" "$(ratio "${WALL[plan]}" "${WALL[restore]}")x"
    add_target "restore and plan peak RSS <= 128 MiB" "$(max "${RSS[restore]}" "${RSS[restore-default]}" "${RSS[plan]}") <= 128 * 1024" \
        "restore $(mib "$(max "${RSS[restore]}" "${RSS[restore-default]}")"), plan $(mib "${RSS[plan]}") MiB"
}

# Transfer: Veloquent's schema-transfer payload. Export (every non-system collection, as the admin UI offers)
# against `sqlite3 -json` over the same tables; import of that payload into a new Veloquent database against the
# restore of the same snapshot above; then a payload holding a 200 MB string, refused in bounded memory.
remove_payload() { rm -f "$WORK/payload.json"; }
remove_imported() { rm -f "$WORK/imported.sqlite" "$WORK/imported.sqlite-journal"; }
section_transfer() {
    local tables
    tables="$(sqlite3 "$DB" "select name from sqlite_master where type = 'table' and name like '\_velo\_%' escape '\' order by name")"
    measure json-ref -- sh -c 'out="$1"; db="$2"; shift 2; for t in "$@"; do sqlite3 -json "$db" "select * from \"$t\""; done > "$out"' sh "$WORK/ref.json" "$DB" $tables
    measure export --before remove_payload -- "$VELO" transfer export --db "$DB_WAL" --out "$WORK/payload.json"
    local payload_bytes
    payload_bytes="$(stat -c %s "$WORK/payload.json")"
    measure import --before remove_imported -- "$VELO" transfer import "$WORK/payload.json" --target "$WORK/imported.sqlite" --json
    add_row 'sqlite3 -json (the same tables)' json-ref "$(stat -c %s "$WORK/ref.json")" "1.00"
    add_row 'velo transfer export (WAL source)' export "$payload_bytes" "$(ratio "${WALL[export]}" "${WALL[json-ref]}")"
    add_row 'velo transfer import (into a new database)' import "-" "$(ratio "${WALL[import]}" "${WALL[restore]}") of restore"
    add_target "transfer export <= 1.0x sqlite3 -json" "${WALL[export]} <= ${WALL[json-ref]}" \
        "$(ratio "${WALL[export]}" "${WALL[json-ref]}")x" "${WALL[json-ref]}"
    add_target "transfer export peak RSS <= 64 MiB" "${RSS[export]} <= 64 * 1024" "$(mib "${RSS[export]}") MiB"
    add_target "transfer import into a new database <= 1.3x velo restore" "${WALL[import]} <= 1.3 * ${WALL[restore]}" \
        "$(ratio "${WALL[import]}" "${WALL[restore]}")x" "${WALL[restore]}"
    add_target "transfer import peak RSS <= 128 MiB" "${RSS[import]} <= 128 * 1024" "$(mib "${RSS[import]}") MiB"
    # A 200 MB string in row 2 of _velo_posts: refused naming the table and row, without holding it.
    python3 - "$WORK/huge.json" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('{"version":1,"records":{"_velo_posts":[{"id":"01a"},{"id":"01b","title":"')
    chunk = "x" * (1 << 20)
    for _ in range(200):
        f.write(chunk)
    f.write('"}]}}')
PY
    rm -f "$WORK/huge.sqlite"
    if "$TIME" -f '%e %M' -o "$WORK/time.out" "$VELO" transfer import "$WORK/huge.json" --target "$WORK/huge.sqlite" 2>"$WORK/huge.err" >/dev/null; then
        die "a payload with a 200 MB string was accepted"
    fi
    local huge_rss
    huge_rss="$(tail -n 1 "$WORK/time.out" | awk '{ print $2 }')"
    echo "== huge: $(cat "$WORK/huge.err")" >> "$LOG"
    ROWS+=("| velo transfer import (payload with a 200 MB string: refused) | $(tail -n 1 "$WORK/time.out" | awk '{ print $1 }') | - | - | $(mib "$huge_rss") | - |")
    add_target "a 200 MB string is refused naming table and row, peak RSS <= 128 MiB" \
        "$(grep -c 'records._velo_posts row 2' "$WORK/huge.err") == 1 && $huge_rss <= 128 * 1024 && $(test -e "$WORK/huge.sqlite" && echo 1 || echo 0) == 0" \
        "$(mib "$huge_rss") MiB: $(sed 's/^Error: //' "$WORK/huge.err" | cut -c1-120)"
    rm -f "$WORK/huge.json" "$WORK/ref.json"
}

# Retention: deciding retention.example.json over a catalog of 10,000 snapshots (copies of a real entry,
# an hour apart), as `velo prune --dry-run` does: read the catalog, decide, report.
section_retention() {
    local repo="$WORK/repo-retention"
    rm -rf "$repo"
    cp -r "$WORK/repo-wal" "$repo"
    python3 - "$repo" <<'PY'
import json, os, sys
repo = sys.argv[1]
catalog = os.path.join(repo, "catalog")
entries = [f for f in os.listdir(catalog) if f.endswith(".json") and not f.endswith(".manifest.json")]
template = json.load(open(os.path.join(catalog, entries[0])))
for f in os.listdir(catalog):
    os.remove(os.path.join(catalog, f))
import datetime
start = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)
for i in range(10000):
    e = dict(template)
    e["id"] = "%016x" % (0x1000000000000000 + i * 7919)
    e["time"] = (start + datetime.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    e["sequence"] = i + 1
    e["archive"] = "snapshots/synthetic/%s.tar.zst" % e["id"]
    with open(os.path.join(catalog, e["id"] + ".json"), "w") as out:
        json.dump(e, out)
PY
    measure retention -- "$VELO" prune --repo "$repo" --policy "$REPO_ROOT/retention.example.json" --dry-run --json
    ROWS+=("| velo prune --dry-run (retention.example.json over 10,000 snapshots) | ${WALL[retention]} | - | - | $(mib "${RSS[retention]}") | - |")
    add_target "deciding a policy over 10,000 catalog entries < 0.5 s" "${WALL[retention]} < 0.5" "${WALL[retention]} s"
}

machine_line() {
    local model mem velo_version sqlite_version zstd_version
    model="$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    mem="$(awk '/^MemTotal:/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"
    velo_version="$("$VELO" --version 2>/dev/null || echo unknown)"
    sqlite_version="$(sqlite3 --version | awk '{ print $1 }')"
    zstd_version="$(zstd --version | grep -o 'v[0-9][0-9.]*' | head -n 1 || true)"
    echo "machine: $(nproc) cores, ${model:-unknown CPU}, ${mem:-unknown RAM}; velo $velo_version; SQLite $sqlite_version; zstd ${zstd_version:-unknown}"
}

report() {
    machine_line
    echo "posts: $POSTS ($TEXT text), database: $(awk -v b="$DB_BYTES" 'BEGIN { printf "%.1f MiB", b / 1048576 }') ($DB_BYTES bytes)"
    echo "median of $RUNS runs, warm page cache"
    echo
    echo "| step | seconds | MB/s of database | archive bytes | peak RSS MiB | ratio to reference |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "targets:"
    printf '%s\n' "${TARGETS[@]}"
    resolution_note
}

main() {
    parse_options "$@"
    check_tools
    trap cleanup EXIT
    prepare_work
    build
    make_databases
    local section
    for section in "${SECTIONS[@]}"; do
        "section_$section"
    done
    report
}

main "$@"
