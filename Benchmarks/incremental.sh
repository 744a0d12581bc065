#!/usr/bin/env bash
# Incremental snapshots (format version 2) against full archives (format version 1) on a demo Veloquent tenant.
#
#   Benchmarks/incremental.sh [--posts N] [--text words|random] [--updates N] [--year-posts N] [--only-year | --no-year] [--work DIR] [--keep] [--skip-build]
#
# Prints a Markdown table (stdout): the first, an unchanged and a 1%-scattered-update backup, each read command
# on the incremental snapshot against the full archive, and a year of backups at 1% a day with the rotation of
# retention.example.json: 365 daily backups (two change models) plus one day of hourly ones, on --year-posts posts,
# then reads of the year's last snapshot against its export as a full archive.
# --updates N makes N scattered updates, of other rows each time: the newest snapshot interleaves N + 1 backups' frames.
# --only-year measures the year alone; --no-year leaves it out (for large --posts).
# Needs bash, swift, sqlite3, python3 and GNU time at /usr/bin/time.
set -euo pipefail
export LC_ALL=C

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POSTS=100000
TEXT=words
YEAR_POSTS=20000
UPDATES=1
WORK="$REPO_ROOT/bench-work-incremental"
KEEP=0
SKIP_BUILD=0
ONLY_YEAR=0
NO_YEAR=0
TIME=/usr/bin/time

while [ $# -gt 0 ]; do
    case "$1" in
        --posts) POSTS="$2"; shift 2 ;;
        --text) TEXT="$2"; shift 2 ;;
        --year-posts) YEAR_POSTS="$2"; shift 2 ;;
        --updates) UPDATES="$2"; shift 2 ;;
        --only-year) ONLY_YEAR=1; shift ;;
        --no-year) NO_YEAR=1; shift ;;
        --work) WORK="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "incremental: unknown option $1" >&2; exit 64 ;;
    esac
done

say() { echo "incremental: $*" >&2; }
[ -x "$TIME" ] || { echo "incremental: GNU time is needed at $TIME (apt-get install time)" >&2; exit 1; }
if [ "$SKIP_BUILD" = 0 ]; then
    say "building release velo"
    (cd "$REPO_ROOT" && swift build -c release >&2)
fi
VELO="${VELO:-$REPO_ROOT/.build/release/velo}"  # VELO=path measures another build
rm -rf "$WORK"; mkdir -p "$WORK"
[ "$KEEP" = 1 ] || trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
LOG="$WORK/commands.log"

# run NAME COMMAND...: wall seconds and peak RSS (KiB) into $NAME_wall and $NAME_rss.
run() {
    local name="$1"; shift
    "$TIME" -f '%e %M' -o "$WORK/time.out" "$@" >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; exit 1; }
    read -r wall rss < "$WORK/time.out"
    printf -v "${name}_wall" '%s' "$wall"
    printf -v "${name}_rss" '%s' "$rss"
}
bytes() { du -sb "$1" | cut -f1; }
# The racy-clean window: a source modified in the last 2 s is scanned whatever its state.
settle() { sleep 2.2; }
mb() { python3 -c "print(f'{$1/1e6:.1f} MB')"; }
pct() { python3 -c "print(f'{100*$1/$2:.1f}%')"; }

if [ "$ONLY_YEAR" = 0 ]; then
say "making a demo with $POSTS posts ($TEXT text, WAL)"
"$VELO" demo --out db.sqlite --posts "$POSTS" --text "$TEXT" --journal-mode wal -q >>"$LOG"
DB_BYTES=$(stat -c %s db.sqlite)
settle

say "full (format 1) backup"
run full "$VELO" backup --db db.sqlite --repo full-repo --full -q
FULL_BYTES=$(find full-repo/snapshots -name '*.tar.zst' -printf '%s\n' | head -1)

say "first incremental backup"
"$VELO" init --repo inc-repo -q >>"$LOG"
b0=$(bytes inc-repo)
run first "$VELO" backup --db db.sqlite --repo inc-repo -q
b1=$(bytes inc-repo); FIRST_ADDED=$((b1 - b0))
settle
say "second incremental backup, nothing changed"
run same "$VELO" backup --db db.sqlite --repo inc-repo -q
b2=$(bytes inc-repo); SAME_ADDED=$((b2 - b1))

for ((u = 0; u < UPDATES; u++)); do
    say "updating 1% of posts (every 100th row, from row $u)"
    sqlite3 db.sqlite "UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid % 100 = $u % 100"
    settle
    b2=$(bytes inc-repo)
    run upd "$VELO" backup --db db.sqlite --repo inc-repo -q
    b3=$(bytes inc-repo); UPD_ADDED=$((b3 - b2))
done
run fullupd "$VELO" backup --db db.sqlite --repo full-repo --full -q

INC=$("$VELO" snapshots --repo inc-repo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
FUL=$("$VELO" snapshots --repo full-repo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
PREV=$("$VELO" snapshots --repo inc-repo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-2]["id"])')
PREVF=$("$VELO" snapshots --repo full-repo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-2]["id"])')

say "reading the incremental snapshot and the full archive"
for kind in inc ful; do
    if [ $kind = inc ]; then R=inc-repo; S=$INC; P=$PREV; else R=full-repo; S=$FUL; P=$PREVF; fi
    run "${kind}_verify" "$VELO" verify "$S" --repo "$R" -q
    run "${kind}_cat" sh -c "'$VELO' cat '$S' posts --repo '$R' > /dev/null"
    run "${kind}_diff" "$VELO" diff "$P" "$S" --repo "$R" -q
    run "${kind}_restore" "$VELO" restore "$S" --repo "$R" --target "restored-$kind.sqlite" -q
    run "${kind}_plan" "$VELO" plan "$S" --repo "$R" --target "restored-$kind.sqlite" -q
done
cmp <(sqlite3 restored-inc.sqlite .dump) <(sqlite3 restored-ful.sqlite .dump) >/dev/null || { echo "incremental: the two restores differ" >&2; exit 1; }
fi

if [ "$NO_YEAR" = 0 ]; then
say "a year of backups at 1% of posts a day, $YEAR_POSTS posts: the hours of one day, then 365 daily backups (two change models)"
# The rotation of retention.example.json. The daily backups are pruned without its hourly and last-6 rules
# (which, with one backup a day, would keep 24 days): the hourly snapshots it keeps are the last day's, counted
# apart by the hourly run.
cat > policy.json <<'JSON'
{"keep_last": 6, "keep_hourly": 24, "keep_daily": 14, "keep_weekly": 8, "keep_monthly": 12, "keep_yearly": -1}
JSON
cat > daily-policy.json <<'JSON'
{"keep_daily": 14, "keep_weekly": 8, "keep_monthly": 12, "keep_yearly": -1}
JSON
"$VELO" demo --out year.sqlite --posts "$YEAR_POSTS" --text "$TEXT" --journal-mode wal -q >>"$LOG"
rows=$(sqlite3 year.sqlite "SELECT max(rowid) FROM _velo_posts")
per_day=$(( rows / 100 ))
start=$(date -u -d '2025-01-01T00:00:00Z' +%s)  # in the past: retention keeps any snapshot from the future
backup_at() {  # repo, unix time, policy
    touch -d '-5 seconds' year.sqlite; [ -f year.sqlite-wal ] && touch -d '-5 seconds' year.sqlite-wal
    "$VELO" backup --db year.sqlite --repo "$1" --time "$(date -u -d "@$2" +%Y-%m-%dT%H:%M:%SZ)" --prune "${3:-policy.json}" -q >>"$LOG" 2>&1
}
# The hours of one day: 24 backups, each after that hour's share of the day's 1% (different rows each hour).
cp year.sqlite hours.sqlite
"$VELO" init --repo hours-repo -q >>"$LOG"
"$VELO" backup --db hours.sqlite --repo hours-repo --full -q >>"$LOG" 2>&1
FULL_YEAR=$(find hours-repo/snapshots -name '*.tar.zst' -printf '%s\n' | head -1)
rm -rf hours-repo; "$VELO" init --repo hours-repo -q >>"$LOG"
mv year.sqlite year-base.sqlite; rm -f year.sqlite-wal year.sqlite-shm; cp hours.sqlite year.sqlite
backup_at hours-repo "$start"
h0=$(bytes hours-repo)
for ((h = 1; h <= 24; h++)); do
    lo=$(( (h - 1) * per_day / 24 ))
    sqlite3 year.sqlite "UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid > $lo AND rowid <= $lo + $per_day / 24"
    backup_at hours-repo $((start + h * 3600))
done
HOURS_GROWTH=$(( $(bytes hours-repo) - h0 ))
# 365 daily backups: "turnover" changes a different 1% of posts each day (each row once in 100 days), "hot"
# changes the same 1% (every 100th row) every day.
for model in turnover hot; do
    rm -f year.sqlite-wal year.sqlite-shm; cp year-base.sqlite year.sqlite
    "$VELO" init --repo "year-$model" -q >>"$LOG"
    for ((d = 0; d < 365; d++)); do
        if [ "$d" -gt 0 ]; then
            if [ $model = turnover ]; then
                lo=$(( (d * per_day) % rows ))
                sqlite3 year.sqlite "UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid > $lo AND rowid <= $lo + $per_day"
            else
                sqlite3 year.sqlite "UPDATE _velo_posts SET views = coalesce(views, 0) + 1 WHERE rowid % 100 = 0"
            fi
        fi
        backup_at "year-$model" $((start + d * 86400)) daily-policy.json
    done
    printf -v "YEAR_${model}" '%s' "$(bytes "year-$model")"
    printf -v "KEPT_${model}" '%s' "$("$VELO" snapshots --repo "year-$model" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
done
# Reading the year's last snapshot after turnover (most of its posts in delta frames, each read with its bases)
# against the same snapshot exported as a full archive: medians of 5 verifies and 3 restores, alternated.
say "reading the year's last snapshot (turnover) and its export"
LAST=$("$VELO" snapshots --repo year-turnover --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
"$VELO" export "$LAST" --repo year-turnover --out year-last.tar.zst -q >>"$LOG"
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
yv_inc=(); yv_ful=(); yr_inc=(); yr_ful=()
for ((i = 0; i < 5; i++)); do
    run yvi "$VELO" verify "$LAST" --repo year-turnover -q; yv_inc+=("$yvi_wall")
    run yvf "$VELO" verify "$WORK/year-last.tar.zst" -q; yv_ful+=("$yvf_wall")
done
for ((i = 0; i < 3; i++)); do
    rm -f year-restored-inc.sqlite year-restored-ful.sqlite
    run yri "$VELO" restore "$LAST" --repo year-turnover --target year-restored-inc.sqlite -q; yr_inc+=("$yri_wall")
    run yrf "$VELO" restore "$WORK/year-last.tar.zst" --target year-restored-ful.sqlite -q; yr_ful+=("$yrf_wall")
done
cmp <(sqlite3 year-restored-inc.sqlite .dump) <(sqlite3 year-restored-ful.sqlite .dump) >/dev/null || { echo "incremental: the year's last restores differ" >&2; exit 1; }
DELTA_SHARE=$(python3 - year-turnover "$LAST" "$VELO" <<'PY'
import json, subprocess, sys
repo, snap, velo = sys.argv[1:4]
info = json.loads(subprocess.run([velo, "inspect", snap, "--repo", repo, "--json"], capture_output=True, check=True).stdout)
print(", ".join(info["incremental"].get("delta_tables", [])) or "none (or a velo that does not say)")
PY
)
YV_INC=$(median "${yv_inc[@]}"); YV_FUL=$(median "${yv_ful[@]}"); YR_INC=$(median "${yr_inc[@]}"); YR_FUL=$(median "${yr_ful[@]}")

fi
if [ "$ONLY_YEAR" = 0 ]; then
python3 - "$POSTS" "$TEXT" "$DB_BYTES" "$FULL_BYTES" "$full_wall" "$full_rss" "$FIRST_ADDED" "$first_wall" "$first_rss" \
    "$SAME_ADDED" "$same_wall" "$UPD_ADDED" "$upd_wall" "$upd_rss" "$fullupd_wall" \
    "$inc_verify_wall" "$ful_verify_wall" "$inc_verify_rss" "$ful_verify_rss" "$inc_cat_wall" "$ful_cat_wall" \
    "$inc_diff_wall" "$ful_diff_wall" "$inc_restore_wall" "$ful_restore_wall" "$inc_restore_rss" "$ful_restore_rss" \
    "$inc_plan_wall" "$ful_plan_wall" "$inc_plan_rss" "$ful_plan_rss" "$UPDATES" <<'PY'
import sys
a = sys.argv[1:]
(posts, text, db, full, full_wall, full_rss, first, first_wall, first_rss, same, same_wall, upd, upd_wall, upd_rss, fullupd_wall,
 iv, fv, ivr, fvr, ic, fc, idf, fdf, ir, fr, irr, frr, ip, fp, ipr, fpr, updates) = a[:32]
updates = int(updates)
f = float
full = int(full)
def mb(b): return f"{int(b)/1e6:.1f} MB"
def mib(k): return f"{int(k)/1024:.0f} MiB"
print(f"Demo tenant: {int(posts):,} posts, {text} text, WAL, {mb(db)} database.\n")
print("| backup | time | bytes added | peak RSS |")
print("|---|---|---|---|")
print(f"| full archive (`--full`, format 1) | {full_wall} s | {mb(full)} | {mib(full_rss)} |")
print(f"| first incremental | {first_wall} s | {mb(first)} ({100*int(first)/full:.0f}% of full) | {mib(first_rss)} |")
print(f"| second, nothing changed | {same_wall} s | {int(same)/1024:.1f} KiB | |")
last = "after updating 1% of posts (every 100th row)" if updates == 1 else f"the last of {updates} updates of 1% of posts (every 100th row, other rows each time)"
print(f"| {last} | {upd_wall} s ({f(upd_wall)/f(fullupd_wall):.2f}x a full backup, {fullupd_wall} s) | {mb(upd)} ({100*int(upd)/full:.1f}% of full) | {mib(upd_rss)} |")
print()
if updates > 1:
    print(f"Reads of the snapshot after the {updates} updates: its segments interleave the frames of {updates + 1} backups.\n")
print("| read | incremental | full archive | ratio | peak RSS (inc / full) |")
print("|---|---|---|---|---|")
for name, i, fu, ri, rf in [("verify", iv, fv, ivr, fvr), ("cat posts", ic, fc, None, None), ("diff (after the last 1% update)", idf, fdf, None, None),
                            ("restore to a new file", ir, fr, irr, frr), ("plan against the restored file", ip, fp, ipr, fpr)]:
    ratio = f(i) / f(fu) if f(fu) > 0 else float("nan")
    rss = f"{mib(ri)} / {mib(rf)}" if ri else ""
    print(f"| {name} | {i} s | {fu} s | {ratio:.2f}x | {rss} |")
print()
PY
fi
if [ "$NO_YEAR" = 0 ]; then
python3 - "$YEAR_POSTS" "$FULL_YEAR" "$HOURS_GROWTH" "$YEAR_turnover" "$KEPT_turnover" "$YEAR_hot" "$KEPT_hot" \
    "$YV_INC" "$YV_FUL" "$YR_INC" "$YR_FUL" "$DELTA_SHARE" <<'PY'
import sys
yposts, yfull, hours, yturn, kturn, yhot, khot, yvi, yvf, yri, yrf, deltas = sys.argv[1:13]
def mb(b): return f"{int(b)/1e6:.1f} MB"
yfull, hours, yturn, yhot = int(yfull), int(hours), int(yturn), int(yhot)
print(f"A year of backups at 1% of posts a day, on a {int(yposts):,}-post demo (full archive {mb(yfull)}), with the rotation of "
      f"retention.example.json applied after every backup (`--prune`): 365 daily backups measured for two kinds of change, plus "
      f"the hourly backups of the last day (24 hourly snapshots, measured on one day: the repository grew {mb(hours)} over those hours).\n")
print("| change model | kept snapshots | repository after a year (daily backups) | + the last day's hourly backups | of one full archive |")
print("|---|---|---|---|---|")
for name, size, kept in [("turnover: a different 1% of posts each day (each row every 100 days)", yturn, kturn),
                         ("hot rows: the same 1% of posts (every 100th row) each day", yhot, khot)]:
    print(f"| {name} | {kept} | {mb(size)} | {mb(size + hours)} | **{(size + hours)/yfull:.2f}x** |")
print(f"\nThe year's last snapshot (turnover; tables with delta frames: {deltas}) against the same snapshot exported as a "
      f"full archive (medians of 5 and 3 runs, alternated):\n")
print("| read | incremental | full archive | ratio |")
print("|---|---|---|---|")
for name, i, fu in [("verify", yvi, yvf), ("restore to a new file", yri, yrf)]:
    print(f"| {name} | {i} s | {fu} s | {float(i)/float(fu):.2f}x |")
PY
fi
