#!/usr/bin/env bash
# Proves the Debian package works on a server without Swift: builds it (Packaging/build-deb.sh, lintian
# included), makes a minimal Debian bookworm root with debootstrap from the mirror this machine's apt uses,
# installs the package there with `apt-get install ./velo_….deb` (apt pulls its dependencies from the
# mirror), then, chrooted, as the www-data user the systemd units run as: velo demo, the backup unit's
# command with the example settings file, velo snapshots, velo verify (and on a damaged copy), velo restore
# into a new file, whose `sqlite3 .dump` must equal the source's.
#
#   Packaging/test-deb.sh [--deb FILE] [--debug] [--keep]
#
# As root. --deb skips the build; --debug builds the package from a debug build (build-deb.sh --debug: the same
# sources, static runtime and units, a few minutes sooner; CI tests the release package); --keep keeps the root.
#
# Needs: debootstrap, sqlite3 (on this machine, to compare the dumps), and what build-deb.sh needs. The mirror
# is the one apt uses for bookworm here, or $VELO_DEBIAN_MIRROR. Nothing is cached between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD

deb=""
keep=no
build_options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=$(realpath "$2"); shift 2 ;;
    --keep) keep=yes; shift ;;
    --debug) build_options+=(--debug); shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-deb.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "test-deb.sh: FAIL: $*" >&2; exit 1; }
step() { printf '== %s (%ds)\n' "$*" "$((SECONDS - started))"; }
started=$SECONDS
[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap, chroot)"
for tool in debootstrap chroot sqlite3 dpkg-deb; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed"
done

work=$(mktemp -d /tmp/velo-deb-test.XXXXXX)
target=$work/root
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
  if [ "$keep" = yes ]; then echo "kept the root in $target"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -z "$deb" ]; then
  step "building the package"
  Packaging/build-deb.sh "${build_options[@]}" | tee "$work/build.log"
  deb=$(tail -n 1 "$work/build.log")
fi
[ -f "$deb" ] || fail "no package at '$deb'"
version=$(dpkg-deb -f "$deb" Version)

# The mirror apt uses here for bookworm (deb.debian.org on a stock machine).
mirror=${VELO_DEBIAN_MIRROR:-$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null \
  | awk '$1 == "bookworm" { print $2; exit }')}
mirror=${mirror:-http://deb.debian.org/debian/}

step "debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$target" "$mirror" > "$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
mount -t proc proc "$target/proc" && mounts+=("$target/proc")
if [ ! -c "$target/dev/null" ]; then mount --bind /dev "$target/dev" && mounts+=("$target/dev"); fi
cp /etc/resolv.conf "$target/etc/resolv.conf"

# A server without Swift: nothing of a toolchain or of the Swift runtime anywhere in the root.
swift_files=$(find "$target" -xdev \( -name 'libswift*' -o -name 'libFoundation*' -o -name 'libdispatch*' \
  -o -name 'swift' -o -name 'swiftc' \) -print)
[ -z "$swift_files" ] || fail "the bookworm root has Swift files: $swift_files"

in_root() { chroot "$target" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"; }
as_www() { chroot --userspec=www-data:www-data "$target" /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/tmp "$@"; }

step "apt-get install ./$(basename "$deb") in the root"
cp "$deb" "$target/root/"
in_root sh -c "apt-get update -q && cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ./$(basename "$deb")" \
  > "$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; fail "apt-get install of the package failed (log above)"; }
grep -E '^(Get|Setting up)' "$work/apt.log" | sed 's/^/   /' | grep -E 'velo|libarchive|libsqlite|libzstd' || true

step "the installed package"
[ "$(in_root dpkg-query -W -f '${Status} ${Version}' velo)" = "install ok installed $version" ] \
  || fail "dpkg does not list velo $version as installed"
[ "$(in_root velo --version)" = "$version" ] || fail "velo --version is not the package version $version"
linked=$(in_root ldd /usr/bin/velo)
echo "$linked" | sed 's/^/   /'
if grep -q 'not found' <<<"$linked"; then fail "velo misses libraries in the root"; fi
if grep -Eiq 'swift|Foundation|dispatch' <<<"$linked"; then fail "velo loads Swift libraries"; fi
for file in /usr/bin/velo /usr/share/man/man1/velo.1.gz /usr/share/bash-completion/completions/velo \
  /usr/share/zsh/vendor-completions/_velo /usr/share/fish/vendor_completions.d/velo.fish \
  /lib/systemd/system/velo-backup@.service /lib/systemd/system/velo-backup@.timer \
  /lib/systemd/system/velo-verify@.service /lib/systemd/system/velo-verify@.timer /lib/systemd/system/velo-serve@.service \
  /lib/systemd/system/velo-replicate@.service \
  /lib/systemd/system/velo-run@.service /lib/systemd/system/velo-run@.timer /usr/share/doc/velo/velo.example.json \
  /usr/share/doc/velo/copyright /usr/share/doc/velo/changelog.gz /usr/share/doc/velo/README.Debian \
  /usr/share/doc/velo/retention.example.json /usr/share/doc/velo/instance.env.example; do
  [ -s "$target$file" ] || fail "the package did not install $file"
done
# Decompressed to a file first: with pipefail, grep -q leaving early would make zcat's last write fail (SIGPIPE).
zcat "$target/usr/share/man/man1/velo.1.gz" > "$work/velo.1"
grep -q '^\.Sh EXIT STATUS' "$work/velo.1" || fail "the manual page has no EXIT STATUS"
enabled=$(find "$target/etc/systemd" -name 'velo-*' 2>/dev/null || true)
[ -z "$enabled" ] || fail "the package enabled units: $enabled"

# The backup unit as systemd would run it for instance "acme": the example settings file with VELO_DB set,
# the example policy as /etc/velo/retention.json, the unit's default VELO_REPO, its User= and UMask=, and
# its ExecStart with $VELO_BACKUP_OPTIONS split on spaces.
step "velo demo, then the backup unit's command as www-data"
in_root install -d -o www-data -g www-data /srv/app
as_www velo demo --out /srv/app/tenant.sqlite --posts 2000 --seed 17 --journal-mode wal > "$work/demo.out" \
  || fail "velo demo failed"
sed 's/^/   /' "$work/demo.out"
sed 's|^VELO_DB=.*|VELO_DB=/srv/app/tenant.sqlite|' "$target/usr/share/doc/velo/instance.env.example" \
  > "$target/etc/velo/acme.env"
cp "$target/usr/share/doc/velo/retention.example.json" "$target/etc/velo/retention.json"
in_root install -d -m 0700 -o www-data -g www-data /var/lib/velo/acme   # StateDirectory=velo/%i
unit=$target/lib/systemd/system/velo-backup@.service
[ "$(sed -n 's/^User=//p' "$unit")" = www-data ] || fail "the backup unit does not run as www-data"
env_args=()
while IFS= read -r line; do env_args+=("${line//%i/acme}"); done \
  < <(sed -n 's/^Environment=//p' "$unit"; grep -E '^[A-Z_]+=' "$target/etc/velo/acme.env")
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
declare -A env_map=()
for pair in "${env_args[@]}"; do env_map[${pair%%=*}]=${pair#*=}; done
read -r -a command_line <<<"${exec_start//\$VELO_BACKUP_OPTIONS/${env_map[VELO_BACKUP_OPTIONS]}}"
echo "   ${command_line[*]}  (${env_args[*]})"
chroot --userspec=www-data:www-data "$target" /bin/sh -c 'umask 0077 && exec "$@"' sh \
  /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/tmp "${env_args[@]}" "${command_line[@]}" \
  > "$work/backup.out" || fail "the backup unit's command failed"
sed 's/^/   /' "$work/backup.out"
repo=/var/lib/velo/acme
archive=$(cd "$target" && find "${repo#/}/snapshots" -name '*.tar.zst' -print -quit)
[ -n "$archive" ] || fail "no archive in $repo"
mode=$(in_root stat -c '%U %a' "/$archive")
[ "$mode" = "www-data 600" ] || fail "the archive is not private to www-data: $mode"

# The replicate unit's command for the same instance, stopped by SIGTERM after three seconds as systemd stops
# it: exit 0, the base and a batch stored in the instance's repository.
step "the replicate unit's command as www-data for three seconds"
replicate_unit=$target/lib/systemd/system/velo-replicate@.service
[ "$(sed -n 's/^User=//p' "$replicate_unit")" = www-data ] || fail "the replicate unit does not run as www-data"
status=0
chroot --userspec=www-data:www-data "$target" /bin/sh -c 'umask 0077 && exec "$@"' sh \
  /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/tmp "${env_args[@]}" \
  timeout --preserve-status -s TERM 3 /usr/bin/velo replicate -v > "$work/replicate.out" || status=$?
sed 's/^/   /' "$work/replicate.out"
[ "$status" -eq 0 ] || fail "velo replicate exited $status on SIGTERM"
grep -q '^stored .*1 base' "$work/replicate.out" || fail "velo replicate stored no base"

# The round unit's command for instance "main": the example config pointed at the demo database, a new
# repository and a metrics file; a round backs up, prunes, verifies and writes the metrics.
step "the run unit's command as www-data, then velo status"
sed -e 's|"repository": .*|"repository": "/var/lib/velo/main/repository",|' \
  -e 's|"databases": .*|"databases": ["/srv/app/tenant.sqlite"],|' \
  -e 's|"prometheus": .*|"prometheus": "/var/lib/velo/main/velo.prom",|' \
  "$target/usr/share/doc/velo/velo.example.json" > "$target/etc/velo/main.json"
in_root install -d -m 0700 -o www-data -g www-data /var/lib/velo/main
run_unit=$target/lib/systemd/system/velo-run@.service
run_command=$(sed -n 's/^ExecStart=//p' "$run_unit")
read -r -a run_line <<<"${run_command//%i/main}"
chroot --userspec=www-data:www-data "$target" /bin/sh -c 'umask 0077 && exec "$@"' sh \
  /usr/bin/env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/tmp "${run_line[@]}" > "$work/run.out" \
  || fail "the run unit's command failed"
sed 's/^/   /' "$work/run.out"
grep -q 'status  OK' "$work/run.out" || fail "the round did not end OK"
in_root grep -q '^velo_last_verify_ok{source="/srv/app/tenant.sqlite",kind="tenant"} 1$' /var/lib/velo/main/velo.prom \
  || fail "the round wrote no metrics"
as_www velo status --config /etc/velo/main.json > "$work/status.out" || fail "velo status is not OK after a round"
sed 's/^/   /' "$work/status.out"

step "velo snapshots, verify, restore"
as_www velo snapshots --repo "$repo" > "$work/snapshots.out" || fail "velo snapshots failed"
sed 's/^/   /' "$work/snapshots.out"
grep -q scheduled "$work/snapshots.out" || fail "velo snapshots does not list the scheduled snapshot"
as_www velo verify --repo "$repo" --all > "$work/verify.out" || fail "velo verify failed"
sed 's/^/   /' "$work/verify.out"

# A copy with its middle byte inverted: zstd's frame checksum or velo's entry checksums must catch it.
damaged=$target/srv/app/damaged.tar.zst
cp "$target/$archive" "$damaged"
middle=$(($(stat -c %s "$damaged") / 2))
byte=$(od -An -tu1 -j "$middle" -N 1 "$damaged" | tr -d ' ')
printf "\\x$(printf %02x $((255 - byte)))" | dd of="$damaged" bs=1 seek="$middle" conv=notrunc status=none
cmp -s "$target/$archive" "$damaged" && fail "the damaged copy is not damaged"
in_root chown www-data:www-data /srv/app/damaged.tar.zst
status=0
as_www velo verify /srv/app/damaged.tar.zst > "$work/damaged.out" 2>&1 || status=$?
[ "$status" -eq 3 ] || { cat "$work/damaged.out" >&2; fail "velo verify of a damaged archive exited $status, not 3"; }
echo "   damaged copy: exit 3: $(tail -n 1 "$work/damaged.out")"

as_www velo restore latest --repo "$repo" --target /srv/app/restored.sqlite > "$work/restore.out" \
  || fail "velo restore failed"
sed 's/^/   /' "$work/restore.out"
# Identical but for the rows of Laravel's cache and queue tables, which a backup leaves out by default.
framework='^INSERT INTO "?(cache|cache_locks|jobs|job_batches|failed_jobs)"? '
sqlite3 "$target/srv/app/tenant.sqlite" .dump | grep -Ev "$framework" > "$work/source.sql"
sqlite3 "$target/srv/app/restored.sqlite" .dump > "$work/restored.sql"
cmp -s "$work/source.sql" "$work/restored.sql" \
  || { diff "$work/source.sql" "$work/restored.sql" | head -n 10 >&2; fail "the restored database's dump differs from the source's"; }
echo "   restored.sqlite: sqlite3 .dump identical to the source's without cache and queue rows" \
  "($(grep -c '^INSERT' "$work/restored.sql") rows)"

step "PASS: velo $version installs and runs on Debian bookworm without Swift"
