"""Turn the COCO panoptic sample (tests/data/) into fuse inputs (proposals JSON + semantic PNGs).

Standalone (json, numpy, pycocotools, Pillow; no rapkit) so that two rapkit trees can be
run on exactly the same input files, e.g. by tools/same_bytes.sh:

    python tools/sample_inputs.py tests/data/panopticapi_sample OUT

OUT gets proposals.json (every non-crowd thing of panoptic_coco_detection_format.json as a
proposal: score falls with the annotation's position, relation = its index) and semantic/
(one 8-bit label map per image: stuff category ids, 0 elsewhere). The sample's README (tests/data/README.md) notes
that these things fuse back to the panoptic ground truth.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as cm


def main(sample: Path, out: Path) -> None:
    det = json.loads((sample / "panoptic_coco_detection_format.json").read_text())
    cats = {c["id"]: c for c in json.loads((sample / "panoptic_coco_categories.json").read_text())}
    images = json.loads((sample / "panoptic_examples.json").read_text())["images"]
    (out / "semantic").mkdir(parents=True, exist_ok=True)
    proposals = []
    for im in images:
        iid, h, w = im["id"], im["height"], im["width"]
        sem = np.zeros((h, w), np.uint8)
        anns = [a for a in det["annotations"] if int(a["image_id"]) == iid]
        for k, a in enumerate(anns):
            seg = a["segmentation"]
            seg = ast.literal_eval(seg) if isinstance(seg, str) else seg
            cid = int(a["category_id"])
            if cats[cid]["isthing"]:
                if a.get("iscrowd"):
                    continue
                counts = seg["counts"] if isinstance(seg["counts"], str) else seg["counts"].decode()
                proposals.append(
                    {
                        "image_id": iid,
                        "category_id": cid,
                        "score": round(1.0 - 0.01 * k, 4),
                        "relation": float(k),
                        "segmentation": {"size": seg["size"], "counts": counts},
                    }
                )
            else:
                rle = {
                    "size": seg["size"],
                    "counts": seg["counts"].encode() if isinstance(seg["counts"], str) else seg["counts"],
                }
                sem[cm.decode(rle) == 1] = cid
        Image.fromarray(sem).save(out / "semantic" / im["file_name"].replace(".jpg", ".png"))
    (out / "proposals.json").write_text(json.dumps(proposals))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
