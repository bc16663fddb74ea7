#!/usr/bin/env bash
# Sets up (packages + data, once), builds, and opens the workbench. Arguments go to the
# workbench: scripts/workbench.sh --db FILE, or --screenshots DIR.
# Without a display (no $DISPLAY or $WAYLAND_DISPLAY) it runs under xvfb-run.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh"
"$repo/build/app/context-pythia" data prepare >/dev/null   # token caches, so Launch starts at once
app="$repo/build/app/context-pythia-workbench"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "[workbench] no display: running under xvfb-run" >&2
    exec xvfb-run -a -s "-screen 0 1280x800x24" "$app" "$@"
fi
exec "$app" "$@"
