#!/usr/bin/env bash
# Sets up (packages + data), builds, and starts the workbench. Until the GUI lands this runs the
# headless demo: prepare the real corpora's token caches and tokenise a sentence.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh"
cli="$repo/build/app/context-pythia"
"$cli" data prepare
echo
echo "tokenize: The jury said it did find that many of Georgia's election laws are outmoded."
echo "The jury said it did find that many of Georgia's election laws are outmoded." | "$cli" tokenize
