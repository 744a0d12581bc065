#!/usr/bin/env bash
# Installs what velo needs (Debian packages), builds it, and runs its main job on a demo tenant database:
# make the database, back it up, list the snapshots, verify them; then the same for a whole demo app (a landlord,
# five tenants and their uploaded files), and restore one tenant into a fresh folder.
set -euo pipefail
cd "$(dirname "$0")"
packages=(libsqlite3-dev libarchive-dev libzstd-dev sqlite3 zstd)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
swift build -c release
velo=.build/release/velo
mkdir -p demo
set -x
$velo demo --out demo/tenant.sqlite --posts 20000 --force
$velo backup --db demo/tenant.sqlite --repo demo/repo --tag quickstart
$velo snapshots --repo demo/repo
$velo verify --repo demo/repo --all
rm -rf demo/app demo/app-repo demo/restored
$velo demo --app demo/app --tenants 5 --posts 2000
$velo backup --app demo/app --repo demo/app-repo
$velo restore --repo demo/app-repo --tenant tenant-003 --app demo/restored
