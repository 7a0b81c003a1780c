#!/usr/bin/env bash
# Same inputs -> same outputs, across two versions of rapkit.
#
#   bash tools/same_bytes.sh [BASE_REV]      (default: the last commit before 2026-11-30's restructuring)
#
# Checks out BASE_REV into a temporary git worktree, makes the inputs once (a synthetic world
# written by BASE_REV's `rapkit synth`, and fuse inputs made from tests/data's COCO sample by
# tools/sample_inputs.py), then runs the same commands with both trees (PYTHONPATH selects
# the tree) and compares:
#   - `rapkit synth` worlds and every `rapkit fuse` folder: byte for byte (diff -r);
#   - extract-relations outputs: byte for byte (cmp);
#   - evaluate / --relations / --sweep / --ablation JSON reports: every number equal, where
#     base fractions are compared as x100 when the new tree reports percentages (0.1.0 wrote
#     fractions in JSON; since the units change every CLI output is in percent), and the
#     heuristic rows' gamma, which the new tables leave out because the heuristic has none.
# Command spellings differ between 0.1.0 and now (fuse --images -> --image-info, synth OUT
# -> -o OUT, ...): the two spellings are written side by side below.
# Exit 0 when everything matches; 1 with the differences listed otherwise.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
BASE=${1:-d84e977}
SAMPLE=${SAMPLE:-$HERE/tests/data/panopticapi_sample}
PY=${PYTHON:-python}
WORK=$(mktemp -d)
trap 'git -C "$HERE" worktree remove --force "$WORK/base-tree" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
git -C "$HERE" worktree add -q --detach "$WORK/base-tree" "$BASE"

old() { PYTHONPATH="$WORK/base-tree" "$PY" -m rapkit "$@"; }
new() { PYTHONPATH="$HERE" "$PY" -m rapkit "$@"; }
cd "$WORK"
fail=0
note() { echo "$*"; }

# ---- inputs
old synth W --images 24 --seed 3 --quiet >/dev/null
new synth -o Wn -n 24 --seed 3 --quiet >/dev/null
if diff -r W Wn >/dev/null; then note "same: synth world"; else note "DIFFERENT: synth world"; fail=1; fi
"$PY" "$HERE/tools/sample_inputs.py" "$SAMPLE" SI

# ---- fuse: folders byte for byte
fuse_case() {  # name, then arguments shared by both trees (without the image list / output)
  local name=$1 info=$2; shift 2
  old fuse --images "$info" -o "old-$name" --quiet "$@" >/dev/null
  new fuse --image-info "$info" -o "new-$name" --quiet "$@" >/dev/null 2>&1
  if diff -r "old-$name" "new-$name" >/dev/null; then note "same: fuse $name"; else note "DIFFERENT: fuse $name"; fail=1; fi
}
WA=(--proposals W/proposals.json --categories W/categories.json --semantic W/semantic)
fuse_case rap W/panoptic.json "${WA[@]}"
fuse_case heuristic W/panoptic.json "${WA[@]}" --strategy heuristic
fuse_case reference W/panoptic.json "${WA[@]}" --variant reference --rho 0.5
fuse_case no-semantic W/panoptic.json --proposals W/proposals.json --categories W/categories.json
SA=(--proposals SI/proposals.json --categories "$SAMPLE/panoptic_coco_categories.json" --semantic SI/semantic)
fuse_case sample-rap "$SAMPLE/panoptic_examples.json" "${SA[@]}"
fuse_case sample-heuristic "$SAMPLE/panoptic_examples.json" "${SA[@]}" --strategy heuristic

# ---- extract-relations: files byte for byte
for tree in old new; do
  $tree extract-relations --instances W/instances.json --panoptic W/panoptic.json --theta 0.2 \
    -o "$tree-rel.json" --rap-instances "$tree-rap.json" --quiet >/dev/null
done
for f in rel rap; do
  if cmp -s "old-$f.json" "new-$f.json"; then note "same: extract-relations $f"; else note "DIFFERENT: extract-relations $f"; fail=1; fi
done

# ---- evaluate reports: numbers
report_case() {
  local name=$1; shift
  old evaluate "$@" --format json --quiet >"old-$name.json" 2>/dev/null
  new evaluate "$@" --format json --quiet >"new-$name.json" 2>/dev/null
  if "$PY" - "old-$name.json" "new-$name.json" <<'PYEOF'
import json, math, sys
old, new = (json.load(open(p)) for p in sys.argv[1:3])
METRICS = {"pq", "sq", "rq", "PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st",
           "dPQ", "dPQ_th", "accuracy", "score_accuracy", "fusion_accuracy", "pair_accuracy"}
SKIP = {"seconds", "schema_version", "units", "note", "notes", "params", "relation_values", "timings"}
bad = []
def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)
def walk(o, n, path, scaled):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in SKIP:
                continue
            if not isinstance(n, dict) or k not in n:
                bad.append(f"{path}/{k}: missing in new"); continue
            walk(v, n[k], f"{path}/{k}", scaled or k in METRICS)
    elif isinstance(o, list):
        if not isinstance(n, list) or len(o) != len(n):
            bad.append(f"{path}: list length {len(o)} vs {len(n) if isinstance(n, list) else n!r}"); return
        for i, (a, b) in enumerate(zip(o, n)):
            walk(a, b, f"{path}[{i}]", scaled)
    elif num(o) and num(n):
        if o == n or (isinstance(o, float) and math.isnan(o) and math.isnan(n)):
            return
        if (scaled or "accuracy" in path.rsplit("/", 1)[-1]) and isinstance(o, float) and o * 100 == n:
            return
        bad.append(f"{path}: {o!r} vs {n!r}")
    elif path.endswith("/gamma") and n is None:
        return  # heuristic rows: the new tables leave out the gamma the heuristic does not use
    elif o != n:
        bad.append(f"{path}: {o!r} vs {n!r}")
walk(old, new, "", False)
if bad:
    print("\n".join(bad[:20]))
sys.exit(1 if bad else 0)
PYEOF
  then note "same: evaluate $name"; else note "DIFFERENT: evaluate $name"; fail=1; fi
}
report_case pq --gt W/panoptic.json --pred new-rap/panoptic.json --per-class
report_case sample-pq --gt "$SAMPLE/panoptic_examples.json" --pred new-sample-rap/panoptic.json --per-class
report_case relations --gt W/panoptic.json --pred new-rap/panoptic.json --relations new-rel.json \
  --proposals W/proposals.json --instances W/instances.json
report_case sweep --sweep rho tau gamma --gt W/panoptic.json --proposals W/proposals.json --semantic W/semantic \
  --rho 0.5,0.6 --tau 0.5,0.6 --gamma 0.4,0.5
report_case ablation --ablation --gt W/panoptic.json --proposals W/proposals.json --semantic W/semantic

exit $fail
