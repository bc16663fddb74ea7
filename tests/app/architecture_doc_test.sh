#!/usr/bin/env bash
# #29 item 4: docs/ARCHITECTURE.md names only files and folders that exist. Every path it mentions
# (core/…, app/…, widgets/…, tests/…, scripts/…, docs/…, brace lists like core/model/{a,b}.cpp
# expanded, and headers named from core's floor such as train/phase1.h) is looked up in the tree.
#   tests/app/architecture_doc_test.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: architecture_doc_test.sh SOURCE_DIR}
python3 - "$src" <<'PY'
import itertools, os, re, sys
src = sys.argv[1]
text = open(os.path.join(src, "docs/ARCHITECTURE.md"), encoding="utf-8").read()
def expand(path):
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [p for part in m.group(1).split(",")
            for p in expand(path[:m.start()] + part.strip() + path[m.end():])]
missing = []
for raw in set(re.findall(r"(?<![\w/.-])((?:core|app|widgets|tests|scripts|docs|resources|cmake)/[\w./{},-]*[\w/}])", text)):
    for p in expand(raw.rstrip(".")):
        if not os.path.exists(os.path.join(src, p)):
            missing.append(p)
for raw in set(re.findall(r"(?<![\w/.-])((?:common|data|model|experiment|train|store|report|workspace)/[\w{},]+\.(?:h|cpp))", text)):
    for p in expand(raw):
        if not os.path.exists(os.path.join(src, "core", p)):
            missing.append(p)
if missing:
    print("docs/ARCHITECTURE.md names what is not in the tree:\n  " + "\n  ".join(sorted(set(missing))))
    sys.exit(1)
print("ok: every path docs/ARCHITECTURE.md names exists")
PY
