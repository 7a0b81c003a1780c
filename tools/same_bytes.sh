#!/usr/bin/env bash
# Same inputs -> same outputs, across two versions of rapkit.
#
#   bash tools/same_bytes.sh [BASE_REV]      (default fb92e49, the last commit before 0.2.0's restructuring)
#
# Checks out BASE_REV into a temporary git worktree, makes the inputs once (a synthetic world,
# fuse inputs from tests/data's COCO sample by tools/sample_inputs.py, and a dense detector dump
# of 100 large overlapping proposals per image by benchmarks/fusion.py's writer), then runs the
# same commands with both trees (PYTHONPATH selects the tree) and compares:
#   - `rapkit synth` worlds and every `rapkit fuse` folder: byte for byte (diff -r);
#   - extract-relations outputs: byte for byte (cmp);
#   - evaluate / --relations / --sweep / --ablation JSON reports: equal, but for the timing
#     fields (`seconds`); top-level sections only the newer tree writes (for example
#     `by_overlap_type`) are listed, not compared.
# Exit 0 when everything matches; 1 with the differences listed otherwise.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
BASE=${1:-fb92e49}
SAMPLE=${SAMPLE:-$HERE/tests/data/panopticapi_sample}
PY=${PYTHON:-python}
WORK=$(mktemp -d)
trap 'git -C "$HERE" worktree remove --force "$WORK/base-tree" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
git -C "$HERE" worktree add -q --detach "$WORK/base-tree" "$BASE"

export RAPKIT_FSYNC=0
old() { PYTHONPATH="$WORK/base-tree" "$PY" -m rapkit "$@"; }
new() { PYTHONPATH="$HERE" "$PY" -m rapkit "$@"; }
cd "$WORK"
fail=0
note() { echo "$*"; }
same_tree() { if diff -r "$2" "$3" >/dev/null; then note "same: $1"; else note "DIFFERENT: $1"; fail=1; fi; }

# ---- inputs
old synth -o W -n 24 --seed 3 --quiet >/dev/null
new synth -o Wn -n 24 --seed 3 --quiet >/dev/null
same_tree "synth world" W Wn
"$PY" "$HERE/tools/sample_inputs.py" "$SAMPLE" SI
HERE_DIR="$HERE" PYTHONPATH="$HERE" "$PY" -c "
import importlib.util, os, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location('bench_fusion', os.path.join(os.environ['HERE_DIR'], 'benchmarks', 'fusion.py'))
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
m.write_dataset(Path('D'), 40, 100, dense=True)
"
ls D >/dev/null

# ---- fuse: folders byte for byte
fuse_case() {  # name, image info, then arguments shared by both trees (without the output)
  local name=$1 info=$2; shift 2
  old fuse --image-info "$info" -o "old-$name" --quiet "$@" >/dev/null 2>&1
  new fuse --image-info "$info" -o "new-$name" --quiet "$@" >/dev/null 2>&1
  same_tree "fuse $name" "old-$name" "new-$name"
}
WA=(--proposals W/proposals.json --categories W/categories.json --semantic W/semantic)
fuse_case rap W/panoptic.json "${WA[@]}"
fuse_case rap-2-workers W/panoptic.json "${WA[@]}" --workers 2
fuse_case heuristic W/panoptic.json "${WA[@]}" --strategy heuristic
fuse_case reference W/panoptic.json "${WA[@]}" --variant reference --rho 0.5
fuse_case no-semantic W/panoptic.json --proposals W/proposals.json --categories W/categories.json
SA=(--proposals SI/proposals.json --categories "$SAMPLE/panoptic_coco_categories.json" --semantic SI/semantic)
fuse_case sample-rap "$SAMPLE/panoptic_examples.json" "${SA[@]}"
fuse_case sample-heuristic "$SAMPLE/panoptic_examples.json" "${SA[@]}" --strategy heuristic
DA=(--proposals D/proposals.json --categories D/categories.json)
[ -d D/semantic ] && DA+=(--semantic D/semantic)
fuse_case dense-rap D/images.json "${DA[@]}"
fuse_case dense-heuristic D/images.json "${DA[@]}" --strategy heuristic
fuse_case dense-reference D/images.json "${DA[@]}" --variant reference --rho 0.3 --gamma 0.4

# ---- extract-relations: files byte for byte
for tree in old new; do
  $tree extract-relations --instances W/instances.json --panoptic W/panoptic.json --theta 0.2 \
    -o "$tree-rel.json" --rap-instances "$tree-rap.json" --quiet >/dev/null 2>&1
  $tree extract-relations --instances W/instances.json --panoptic W/panoptic.json --rule deficit \
    -o "$tree-rel-deficit.json" --workers 2 --quiet >/dev/null 2>&1
done
for f in rel rap rel-deficit; do
  if cmp -s "old-$f.json" "new-$f.json"; then note "same: extract-relations $f"; else note "DIFFERENT: extract-relations $f"; fail=1; fi
done

# ---- evaluate reports: JSON equal but for timings
report_case() {
  local name=$1; shift
  old evaluate "$@" --format json --quiet >"old-$name.json" 2>/dev/null || true
  new evaluate "$@" --format json --quiet >"new-$name.json" 2>/dev/null || true
  if "$PY" - "old-$name.json" "new-$name.json" <<'PYEOF'
import json, sys
def clean(o):
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items() if k != "seconds"}
    if isinstance(o, list):
        return [clean(v) for v in o]
    return o
old, new = (clean(json.loads(open(p).read() or "null")) for p in sys.argv[1:3])
# top-level keys the newer tree adds (a new report section) are listed, not compared;
# every key the base writes must come back with the same value
added = sorted(set(new) - set(old)) if isinstance(old, dict) and isinstance(new, dict) else []
if added:
    new = {k: v for k, v in new.items() if k in old}
if old is None or old != new:
    print(json.dumps(old)[:300]); print(json.dumps(new)[:300])
    sys.exit(1)
if added:
    print("  (added in the newer tree, not compared: " + ", ".join(added) + ")")
PYEOF
  then note "same: evaluate $name"; else note "DIFFERENT: evaluate $name"; fail=1; fi
}
report_case pq --gt W/panoptic.json --pred new-rap/panoptic.json --per-class --per-image
report_case pq-pil --gt W/panoptic.json --pred new-rap/panoptic.json --per-class --decoder pil --workers 2
report_case sample-pq --gt "$SAMPLE/panoptic_examples.json" --pred new-sample-rap/panoptic.json --per-class
report_case relations --gt W/panoptic.json --pred new-rap/panoptic.json --relations new-rel.json \
  --proposals W/proposals.json --instances W/instances.json
report_case relations-authors --relations new-rel.json --proposals W/proposals.json --instances W/instances.json \
  --protocol authors --by-category
report_case sweep --sweep rho tau gamma --gt W/panoptic.json --proposals W/proposals.json --semantic W/semantic \
  --rho 0.5,0.6 --tau 0.5,0.6 --gamma 0.4,0.5
report_case ablation --ablation --gt W/panoptic.json --proposals W/proposals.json --semantic W/semantic

exit $fail
