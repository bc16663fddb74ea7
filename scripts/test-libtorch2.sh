#!/usr/bin/env bash
# The libtorch 2.x stage (#28): where GPU users run, libtorch is 2.x, and the
# TORCH_VERSION_MAJOR >= 2 paths (scaled-dot-product attention, the 2.4+ autocast API, c10d's
# Backend) compile only there. Makes (or reuses) a Debian 13 root with debootstrap under the build
# folder, copies the working tree and the installed data into it, installs the project's packages
# there with the README's own scripts/setup.sh (so set-up is tested on Debian 13 too: libtorch
# 2.6, Qt 6.8, GCC 14), builds the whole project there (GUI included) and runs the model,
# training, cache-policy, distributed and GUI suites. Needs root (debootstrap, chroot, a /proc
# mount) and Debian's registry; scripts/test.sh runs it after the main suite.
# A machine that cannot make the root (no debootstrap from Debian's registry, no chroot or /proc
# mount) is told so and the stage is skipped with exit 0, unless CP_LIBTORCH2_REQUIRED=1; once the
# root stands, whatever does not build or pass fails the stage.
#   scripts/test-libtorch2.sh [ROOT_DIR]        CP_DEBIAN_MIRROR=URL (default: deb.debian.org)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${1:-$repo/build/trixie-root}
mirror=${CP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
data_dir=${CP_DATA_DIR:-$repo/data}
say() { printf '[libtorch2] %s\n' "$*"; }
cannot() {
    say "SKIPPED: this machine cannot make the Debian 13 root: $*"
    [ "${CP_LIBTORCH2_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
}
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

# ---- 1. the root: made once, reused ---------------------------------------------------------
if [ ! -x "$root/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null 2>&1 || {
        say "installing debootstrap"
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
            cannot "apt-get install debootstrap failed"
    }
    say "debootstrap trixie into $root (about 2 minutes)"
    rm -rf "$root"
    mkdir -p "$root"
    "${sudo[@]}" debootstrap --variant=minbase trixie "$root" "$mirror" >/dev/null ||
        cannot "debootstrap trixie from $mirror failed"
fi
mounted=()
cleanup() {
    for m in "${mounted[@]}"; do "${sudo[@]}" umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT
for fs in proc dev dev/shm; do
    mkdir -p "$root/$fs"
    if ! mountpoint -q "$root/$fs"; then
        case "$fs" in
            proc) "${sudo[@]}" mount -t proc proc "$root/proc" || cannot "mounting /proc in the root failed" ;;
            *) "${sudo[@]}" mount --bind "/$fs" "$root/$fs" || cannot "bind-mounting /$fs failed" ;;
        esac
        mounted=("$root/$fs" "${mounted[@]}")
    fi
done
in_root() { "${sudo[@]}" chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 CP_DATA_DIR=/src/data QT_QPA_PLATFORM=offscreen /bin/bash -c "$1"; }
# ---- 2. the working tree and the data, copied in (the build folder stays outside) ----------
mkdir -p "$root/src"
(cd "$repo" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$root/src" -xf -
mkdir -p "$root/src/data"
tar -C "$data_dir" --exclude=./cache -cf - . | tar -C "$root/src/data" -xf -

# ---- 3. the project's packages, by the README's own set-up command (#28: it must work on 13) ---
cp /etc/resolv.conf "$root/etc/resolv.conf"
say "scripts/setup.sh in the root (the first time about 4 minutes)"
in_root "cd /src && scripts/setup.sh" > "$root/setup.log" 2>&1 ||
    { tail -40 "$root/setup.log"; say "scripts/setup.sh failed in the root (its log: $root/setup.log)"; exit 1; }
grep '^\[setup\]' "$root/setup.log" | sed 's/^/  /'
in_root "grep -q '^de_DE.UTF-8' /etc/locale.gen 2>/dev/null || { echo 'de_DE.UTF-8 UTF-8' >> /etc/locale.gen; locale-gen >/dev/null; }"
say "$(in_root "dpkg-query -W -f='libtorch \${Version}' libtorch-dev; echo -n ', '; dpkg-query -W -f='Qt \${Version}' qt6-base-dev; echo -n ', '; g++ --version | head -1")"

# ---- 4. build and test there --------------------------------------------------------------
say "building with libtorch 2.x"
# The libtorch named by CMAKE_PREFIX_PATH, as a user with their own libtorch gives it (#28 item 3).
in_root "cd /src && cmake -S . -B build-libtorch2 -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=/usr/lib/x86_64-linux-gnu/cmake/Torch >/dev/null && cmake --build build-libtorch2 -j${CP_JOBS:-2} >/dev/null"
say "running the model, training, cache-policy, distributed, GUI and configure suites"
in_root "cd /src/build-libtorch2 && ctest --output-on-failure --timeout 1200 -j${CP_JOBS:-2} -R '^(test_models|test_training|test_cache_policies|test_distributed|test_workbench|test_reference_numerics|test_torch_configure)\$'"
say "libtorch 2.x: built and passed"
