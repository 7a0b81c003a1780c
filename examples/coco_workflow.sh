#!/usr/bin/env bash
# COCO on disk -> the RAP paper's tables and pictures, with rapkit.
#
# What it shows, in order:
#   1. occlusion relations extracted from the COCO train annotations (paper 3.1),
#   2. the relation head trained on your frozen Mask R-CNN (paper 3.2-3.3),
#   3. relation values predicted for the val detections,
#   4. fusion with the heuristic (panopticapi/detectron2 rule) and with RAP (Algorithm 1),
#   5. PQ of both, per image with the dPQ ranking, and relation accuracy (Table 4),
#   6. the threshold sweep (Table 1) and the ablation (Table 2),
#   7. pictures: where the two fusions differ most, overlays, the head's mistakes, charts.
#
# Every path comes from a variable below; set them in the environment to point at your data,
# e.g.  COCO=/data/coco DETECTOR=maskrcnn.pth bash examples/coco_workflow.sh
# (tests/docs/test_docs_run.py runs this script on a small synthetic world in that layout).
# VAL_DETECTIONS: optional COCO results JSON of any detector (detectron2, mmdet, ...; see
# examples/from_*.py); when empty, `rapkit predict` runs the detector itself.
# VAL_SEMANTIC: a folder of semantic PNG label maps of the val images (or a COCO-stuff JSON);
# when empty, stuff is left VOID.
set -euo pipefail

COCO=${COCO:-coco}
TRAIN_IMAGES=${TRAIN_IMAGES:-$COCO/train2017}
TRAIN_INSTANCES=${TRAIN_INSTANCES:-$COCO/annotations/instances_train2017.json}
TRAIN_PANOPTIC=${TRAIN_PANOPTIC:-$COCO/annotations/panoptic_train2017.json}
VAL_IMAGES=${VAL_IMAGES:-$COCO/val2017}
VAL_INSTANCES=${VAL_INSTANCES:-$COCO/annotations/instances_val2017.json}
VAL_PANOPTIC=${VAL_PANOPTIC:-$COCO/annotations/panoptic_val2017.json}
CATEGORIES=${CATEGORIES:-$VAL_PANOPTIC}          # any JSON with the panoptic 'categories'
VAL_SEMANTIC=${VAL_SEMANTIC:-}
VAL_DETECTIONS=${VAL_DETECTIONS:-}
DETECTOR=${DETECTOR:-maskrcnn.pth}               # torchvision Mask R-CNN checkpoint
ARCH=${ARCH:-maskrcnn_resnet50_fpn}              # see `rapkit train --help`
MIN_SIZE=${MIN_SIZE:-800}
MAX_SIZE=${MAX_SIZE:-1333}
ITERATIONS=${ITERATIONS:-5000}                   # the paper: 5K iterations at batch 16
BATCH_SIZE=${BATCH_SIZE:-16}
STUFF_AREA=${STUFF_AREA:-4096}
PICTURES=${PICTURES:-10}                         # images per kind of picture
WORKERS=${WORKERS:-0}                            # 0 = every core
OUT=${OUT:-rap-out}

mkdir -p "$OUT/pictures"
semantic=()
if [ -n "$VAL_SEMANTIC" ]; then semantic=(--semantic "$VAL_SEMANTIC"); fi
detections=()
if [ -n "$VAL_DETECTIONS" ]; then detections=(--proposals "$VAL_DETECTIONS"); fi

# 1. ground-truth occlusion relations (train for the head, val for relation accuracy)
rapkit extract-relations --instances "$TRAIN_INSTANCES" --panoptic "$TRAIN_PANOPTIC" --theta 0.2 \
    -o "$OUT/relations_train.json" -j "$WORKERS" --force
rapkit extract-relations --instances "$VAL_INSTANCES" --panoptic "$VAL_PANOPTIC" --theta 0.2 \
    -o "$OUT/relations_val.json" -j "$WORKERS" --force

# 2. the relation head on the frozen detector
rapkit train --detector "$DETECTOR" --arch "$ARCH" --min-size "$MIN_SIZE" --max-size "$MAX_SIZE" \
    --images "$TRAIN_IMAGES" --instances "$TRAIN_INSTANCES" --relations "$OUT/relations_train.json" \
    --iterations "$ITERATIONS" --batch-size "$BATCH_SIZE" -o "$OUT/head.pt" --force

# 3. relation values for the val detections
rapkit predict --detector "$DETECTOR" --head "$OUT/head.pt" --images "$VAL_IMAGES" --image-info "$VAL_INSTANCES" \
    "${detections[@]}" -o "$OUT/proposals_val.json" --force

# 4. fusion: the heuristic baseline (rho = tau = 0.5) and RAP (the paper's best 0.6/0.6/0.5)
rapkit fuse --proposals "$OUT/proposals_val.json" --image-info "$VAL_PANOPTIC" --categories "$CATEGORIES" \
    "${semantic[@]}" --stuff-area "$STUFF_AREA" --strategy heuristic -o "$OUT/heuristic" -j "$WORKERS" --force
rapkit fuse --proposals "$OUT/proposals_val.json" --image-info "$VAL_PANOPTIC" --categories "$CATEGORIES" \
    "${semantic[@]}" --stuff-area "$STUFF_AREA" --strategy rap -o "$OUT/rap" -j "$WORKERS" --force

# 5. PQ per class of RAP; both fusions per image, where RAP helps or hurts (dPQ = PQ(rap) -
#    PQ(heuristic), largest |dPQ| first; the first tables are the PQ of each); relation accuracy
rapkit evaluate --gt "$VAL_PANOPTIC" --pred "$OUT/rap/panoptic.json" --per-class -j "$WORKERS"
rapkit evaluate --gt "$VAL_PANOPTIC" --pred "$OUT/heuristic/panoptic.json" --pred "$OUT/rap/panoptic.json" \
    --per-image --format csv -j "$WORKERS" > "$OUT/per_image.csv"
head -n 10 "$OUT/per_image.csv"
rapkit evaluate --relations "$OUT/relations_val.json" --proposals "$OUT/proposals_val.json" \
    --instances "$VAL_INSTANCES" --by-category -o "$OUT/relation_gap.csv" --force -j "$WORKERS"

# 6. the paper's Table 1 (sweep of rho, tau, gamma) and Table 2 (ablation)
rapkit evaluate --sweep rho tau gamma --gt "$VAL_PANOPTIC" --proposals "$OUT/proposals_val.json" \
    "${semantic[@]}" --categories "$CATEGORIES" --stuff-area "$STUFF_AREA" -o "$OUT/sweep.csv" --force -j "$WORKERS"
rapkit evaluate --ablation --gt "$VAL_PANOPTIC" --proposals "$OUT/proposals_val.json" \
    "${semantic[@]}" --categories "$CATEGORIES" --stuff-area "$STUFF_AREA" -o "$OUT/ablation.csv" --force -j "$WORKERS"

# 7. pictures
rapkit show compare --a "$OUT/heuristic/panoptic.json" --b "$OUT/rap/panoptic.json" --gt "$VAL_PANOPTIC" \
    --names heuristic,RAP --top "$PICTURES" --images "$VAL_IMAGES" -o "$OUT/pictures/compare" --force -j "$WORKERS"
rapkit show overlay --panoptic "$OUT/rap/panoptic.json" --categories "$CATEGORIES" --images "$VAL_IMAGES" \
    --first "$PICTURES" -o "$OUT/pictures/overlay" --force -j "$WORKERS"
rapkit show relations --relations "$OUT/relations_val.json" --instances "$VAL_INSTANCES" \
    --proposals "$OUT/proposals_val.json" --images "$VAL_IMAGES" --first "$PICTURES" \
    -o "$OUT/pictures/relations" --force -j "$WORKERS"
if python -c "import matplotlib" 2>/dev/null; then
    rapkit show charts --sweep-table "$OUT/sweep.csv" --ablation-table "$OUT/ablation.csv" \
        --gap-table "$OUT/relation_gap.csv" -o "$OUT/pictures/charts" --force
else
    echo "charts skipped: pip install 'rapkit[plot]' (matplotlib) for them" >&2
fi
echo "done: tables printed above, per-image dPQ in $OUT/per_image.csv, pictures under $OUT/pictures/" >&2
