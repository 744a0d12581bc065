#!/usr/bin/env bash
# Builds velo_<version>_<arch>.deb: a release build with the Swift runtime and Foundation linked statically
# (it runs on a Debian server without a Swift toolchain), its manual page, shell completions, systemd units
# and documentation. Depends: is computed from the binary by dpkg-shlibdeps; the package version is the one
# `velo --version` prints. lintian runs on the result and any error fails the build.
#
#   Packaging/build-deb.sh [--out DIR] [--no-lintian] [--debug]   (default DIR: .build-deb; prints the .deb's path last)
#
# --debug packages a debug build instead (in .build-debug-static/): the same sources, static runtime and checks,
# for a quicker check of the packaging while working on it (about 12 minutes from scratch on 2 cores, against
# 16 for the release build). The package to ship, and the one CI tests, is the release one.
#
# Needs: swift (6.x with its static Linux SDK in usr/lib/swift_static), dpkg-dev, binutils, lintian, and the
# -dev packages of README's build section. The maintainer is $DEBFULLNAME <$DEBEMAIL>, else the last commit's
# author. SOURCE_DATE_EPOCH (default: the last commit's time) dates the manual page and the changelog.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
packaging=$root/Packaging

out=$root/.build-deb
lintian=yes
configuration=release
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --no-lintian) lintian=no; shift ;;
    --debug) configuration=debug; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "build-deb.sh: $*" >&2; exit 1; }
need=(swift dpkg-deb dpkg-shlibdeps dpkg-architecture strip readelf gzip)
[ "$lintian" = yes ] && need+=(lintian)
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null || fail "'$tool' is not installed (apt-get install dpkg-dev binutils lintian; swift from swift.org)"
done

# --- the binary ------------------------------------------------------------------------------------------
# A scratch path of its own: against the static runtime every module is compiled again (its standard library and
# Foundation modules are the ones in swift_static), so `swift test`'s .build cannot be reused.
scratch=$root/.build-$configuration-static
echo "== swift build -c $configuration --static-swift-stdlib (scratch path ${scratch#"$root"/})"
swift build -c "$configuration" --product velo --static-swift-stdlib --disable-local-rpath --scratch-path "$scratch" \
  -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
binary=$scratch/$configuration/velo
[ -x "$binary" ] || fail "the build produced no $binary"

# Only Debian's own libraries may be needed, found the ordinary way: no Swift runtime, no run path.
dynamic=$(readelf -d "$binary")
if grep -Eq '\((RUNPATH|RPATH)\)' <<<"$dynamic"; then
  fail "$binary has a run path: $(grep -E '\((RUNPATH|RPATH)\)' <<<"$dynamic" | sed 's/.*: //')"
fi
if grep -Ei 'NEEDED.*(swift|Foundation|dispatch|BlocksRuntime|icu)' <<<"$dynamic"; then
  fail "$binary still needs the Swift runtime or Foundation dynamically (see the lines above)"
fi

# The version: what the binary prints, which must be what the source says (a stale binary is caught here).
version=$("$binary" --version)
source_version=$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' "$root/Sources/VeloFormat/Support/VeloVersion.swift")
[ "$version" = "$source_version" ] || fail "velo --version prints '$version' but VeloVersion.swift says '$source_version'"
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || fail "'$version' is not a Debian native version"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
commit=$(git -C "$root" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
if [ -n "${DEBEMAIL:-}" ]; then
  maintainer="${DEBFULLNAME:-velo maintainers} <$DEBEMAIL>"
else
  maintainer=$(git -C "$root" log -1 --format='%an <%ae>' 2>/dev/null || true)
  [ -n "$maintainer" ] || fail "no maintainer: set DEBFULLNAME and DEBEMAIL"
fi

# --- the package tree ------------------------------------------------------------------------------------
stage=$out/velo_${version}_${arch}
rm -rf "$stage"
mkdir -p "$stage"
umask 022

install -D -m 0755 "$binary" "$stage/usr/bin/velo"
# As dh_strip does: no symbols, no comment or note sections (the stripped binary is what the test runs).
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$stage/usr/bin/velo"

# The manual page, generated from the binary's own help by swift-argument-parser's generate-manual, then
# ENVIRONMENT, FILES, EXIT STATUS and SEE ALSO from Packaging/man/velo.1.tail.
echo "== manual page"
swift build --package-path "$scratch/checkouts/swift-argument-parser" --scratch-path "$scratch/tools" \
  --product generate-manual >/dev/null
man_dir=$(mktemp -d)
trap 'rm -rf "$man_dir"' EXIT
"$scratch/tools/debug/generate-manual" "$stage/usr/bin/velo" \
  --date "$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)" --output-directory "$man_dir"
[ -s "$man_dir/velo.1" ] || fail "generate-manual wrote no velo.1"
{
  # Its generic "EXIT STATUS / .Ex -std" ending is replaced by the tail; a blank line is a paragraph break.
  sed -e '/^\.Sh "EXIT STATUS"$/,$d' -e 's/^$/.Pp/' "$man_dir/velo.1"
  cat "$packaging/man/velo.1.tail"
} > "$man_dir/velo.1.full"
install -D -m 0644 "$man_dir/velo.1.full" "$stage/usr/share/man/man1/velo.1"
gzip -9n "$stage/usr/share/man/man1/velo.1"

echo "== completions"
install -d -m 0755 "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
  "$stage/usr/share/fish/vendor_completions.d"
# bash-completion sources its files: no #! line.
"$binary" --generate-completion-script bash | sed '1{/^#!/d}' > "$stage/usr/share/bash-completion/completions/velo"
"$binary" --generate-completion-script zsh > "$stage/usr/share/zsh/vendor-completions/_velo"
"$binary" --generate-completion-script fish > "$stage/usr/share/fish/vendor_completions.d/velo.fish"
chmod 0644 "$stage/usr/share/bash-completion/completions/velo" "$stage/usr/share/zsh/vendor-completions/_velo" \
  "$stage/usr/share/fish/vendor_completions.d/velo.fish"

# systemd units, installed disabled (nothing enables them; see README.Debian).
install -d -m 0755 "$stage/lib/systemd/system"
install -m 0644 "$packaging"/systemd/velo-*@.service "$packaging"/systemd/velo-*@.timer "$stage/lib/systemd/system/"
install -d -m 0755 "$stage/etc/velo"
# systemd's own check of the units (syntax, keys, values) for an instance, when systemd-analyze is here. Only
# "/usr/bin/velo is not executable" is expected, on a machine where velo is not installed.
if command -v systemd-analyze >/dev/null; then
  unit_dir=$(mktemp -d)
  for unit in "$stage"/lib/systemd/system/velo-*@.*; do
    name=$(basename "$unit")
    cp "$unit" "$unit_dir/$name"
    ln -s "$name" "$unit_dir/${name/@./@check.}"
  done
  problems=$(cd "$unit_dir" && systemd-analyze verify --man=no ./*@check.* 2>&1 \
    | grep -v 'Command /usr/bin/velo is not executable' || true)
  rm -rf "$unit_dir"
  [ -z "$problems" ] || fail "systemd-analyze verify: $problems"
else
  echo "(systemd-analyze is not installed: the units were not checked by systemd)"
fi

# lintian overrides, each with its reason in the file.
install -D -m 0644 "$packaging/debian/lintian-overrides" "$stage/usr/share/lintian/overrides/velo"

doc=$stage/usr/share/doc/velo
install -d -m 0755 "$doc"
install -m 0644 "$packaging/debian/copyright" "$packaging/debian/README.Debian" "$root/retention.example.json" "$root/velo.example.json" \
  "$packaging/instance.env.example" "$doc/"
gzip -9nc "$root/README.md" > "$doc/README.md.gz"
for page in FORMAT COMMANDS HTTP-API; do gzip -9nc "$root/docs/$page.md" > "$doc/$page.md.gz"; done
{
  printf 'velo (%s) stable; urgency=medium\n\n' "$version"
  printf '  * velo %s, built from commit %s.\n\n' "$version" "$commit"
  printf ' -- %s  %s\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc"/*

# --- control ---------------------------------------------------------------------------------------------
echo "== control"
# dpkg-shlibdeps works in a source tree: debian/control, and the binary in a package tree debian/<package>/.
shlib_dir=$(mktemp -d)
trap 'rm -rf "$man_dir" "$shlib_dir"' EXIT
mkdir -p "$shlib_dir/debian/velo/usr/bin" "$shlib_dir/debian/velo/DEBIAN"
printf 'Source: velo\n\nPackage: velo\nArchitecture: any\n' > "$shlib_dir/debian/control"
cp "$stage/usr/bin/velo" "$shlib_dir/debian/velo/usr/bin/velo"
depends=$(cd "$shlib_dir" && dpkg-shlibdeps -O -edebian/velo/usr/bin/velo | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || fail "dpkg-shlibdeps found no dependencies for usr/bin/velo"

install -d -m 0755 "$stage/DEBIAN"
installed_size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
  -e "s|@INSTALLED_SIZE@|$installed_size|" -e "s|@DEPENDS@|$depends|" \
  "$packaging/debian/control" > "$stage/DEBIAN/control"
install -m 0755 "$packaging/debian/postinst" "$packaging/debian/postrm" "$stage/DEBIAN/"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
  > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"

deb=$out/velo_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "== $(basename "$deb"): $(du -h "$deb" | cut -f1), Depends: $depends"

if [ "$lintian" = yes ]; then
  echo "== lintian"
  lintian --fail-on error --display-info --tag-display-limit 0 "$deb" || fail "lintian found errors in $deb"
fi
echo "$deb"
