#!/usr/bin/env python3
"""The naive pipeline a user would write instead of qaug, the peer scripts/bench_perturb.py measures.

A reconstruction of the seed's own `perturb_json`, as issue 12 describes it: stdlib `json` and `random`,
a recursive key shuffle, 30% of the leaves set to null, and a `_meta` object added. For each line: read,
parse, perturb the JSON answer (the `output` field), dump, write the original and the variant.

    python scripts/naive_perturb.py IN.jsonl OUT.jsonl [--seed 0]
"""

from __future__ import annotations

import json
import random
import sys


def perturb_json(value, rng: random.Random, null_p: float = 0.3):
    """Keys shuffled at every level, leaves nulled with probability null_p; the top object gets `_meta`."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: perturb_json(v, rng, null_p) for k, v in items}
    if isinstance(value, list):
        return [perturb_json(v, rng, null_p) for v in value]
    return None if rng.random() < null_p else value


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 0
    rng = random.Random(seed)
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
        for line in fin:
            record = json.loads(line)
            fout.write(json.dumps(record, ensure_ascii=False) + "\n")
            try:
                answer = json.loads(record["output"])
            except (KeyError, TypeError, ValueError):
                continue
            variant = perturb_json(answer, rng)
            if isinstance(variant, dict):
                variant["_meta"] = {"source": "perturb", "version": 1}
            fout.write(json.dumps({**record, "output": json.dumps(variant, ensure_ascii=False)},
                                  ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
