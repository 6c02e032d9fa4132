"""`qaug split`: train/eval/test files from an augmented output, split by original so nothing leaks.

A paraphrase of an eval question that lands in train inflates every score, so the unit of the
split is a group, never a line: an original with all its variants (`_qaug.parent`), every line
sharing a record `id`, and originals whose prompts are near-duplicates (MinHash on character
3-grams proposes pairs, `qaug.quality.filters.similarity` confirms them). A group's side is a
hash of its key (the smallest original id in it) and the seed, so a record lands on the same side
on every run and in every shard.

Two passes over the file: the first builds the groups (memory: a few entries per original, none
per variant), the second writes each line, byte for byte, to its side. Lines are never dropped:
variants of eval/test groups go to `<side>.variants.jsonl` (unless kept), unreadable lines to
`rejects.jsonl`.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from qaug import jsonio
from qaug.errors import UsageError
from qaug.outformat import array_element, is_bracket
from qaug.readers import InputReject, open_binary
from qaug.writers import same_file, write_json_atomic
from qaug.quality.filters import normalize, similarity
from qaug.records import DEFAULT_FIELDS, detect_format, iter_texts

PROMPT_FIELDS = {**DEFAULT_FIELDS, "alpaca": ("instruction", "input")}
NUM_PERM, ROWS = 24, 4  # 6 bands of 4 rows: a pair at 0.74 Jaccard (Dice 0.85) is proposed ~88% of the time
BANDS = NUM_PERM // ROWS
PREFILTER = 0.5  # signature agreement below this is not worth re-reading the two lines to compare
WINDOW = 64  # a bucket larger than this is compared in windows of this many, ordered by whole signature
_rng = np.random.default_rng(20240611)  # fixed: signatures must not change between runs
_XOR = _rng.integers(0, 1 << 63, NUM_PERM, dtype=np.uint64) << np.uint64(1)
_ODD = (_rng.integers(0, 1 << 63, NUM_PERM, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
_MIX = _rng.integers(1, 1 << 63, NUM_PERM, dtype=np.uint64) | np.uint64(1)
EXAMPLES = 20
MAX_SHAPES = 100  # distinct keys and roles recorded, so a file of odd records cannot grow the report


@dataclass
class SplitReport:
    """What a split did: written to DIR/split.report.json and summarised by the CLI."""

    input: str
    seed: int
    fractions: dict[str, float]
    near_dup_threshold: float
    keep_eval_variants: bool
    lines: int = 0
    groups: int = 0
    rejects: int = 0
    sides: dict[str, dict[str, Any]] = field(default_factory=dict)
    held_out_variants: dict[str, int] = field(default_factory=dict)
    merged_pairs: int = 0
    merged_examples: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    formats: dict[str, int] = field(default_factory=dict)
    roles: dict[str, int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


class _Groups:
    """Union-find over node names ('q:<original id>', 'r:<record id>'), held as ints."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.parent = array("q")

    def node(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.parent)
            self.parent.append(i)
        return i

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if ra > rb:
            ra, rb = rb, ra
        self.parent[rb] = ra
        return True


def prompt_text(value: dict[str, Any]) -> str:
    """The prompt side of a record (instruction + input, user turns, text): what a leak repeats."""
    fmt = detect_format(value)
    if fmt is None:
        return ""
    try:
        return "\n".join(text for _, text in iter_texts(value, fmt, PROMPT_FIELDS.get(fmt)))
    except (AttributeError, TypeError):
        return ""


def minhash(text: str) -> list[int]:
    """The MinHash signature (NUM_PERM values below 2**32) of the text's character 3-grams; deterministic."""
    t = normalize(text).replace(" ", "")
    grams = {t[i:i + 3] for i in range(max(len(t) - 2, 1))} if t else {""}
    # a 64-bit hash per gram, then one multiply-shift hash per permutation (a linear hash of crc32 is not
    # min-wise independent enough: prompts sharing a few words agreed on most of the signature)
    hashes = np.fromiter((int.from_bytes(hashlib.blake2b(g.encode("utf-8"), digest_size=8).digest(), "little")
                          for g in grams), dtype=np.uint64, count=len(grams))
    with np.errstate(over="ignore"):
        values = ((hashes[:, None] ^ _XOR[None, :]) * _ODD[None, :]) >> np.uint64(32)
    return values.min(axis=0).tolist()


def _band_keys(sigs: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """One uint64 per row for signature columns lo:hi (wrapping multiply-xor: a collision is only a candidate)."""
    key = np.zeros(len(sigs), dtype=np.uint64)
    for c in range(lo, hi):
        with np.errstate(over="ignore"):
            key ^= sigs[:, c].astype(np.uint64) * _MIX[c]
            key = (key << np.uint64(7)) | (key >> np.uint64(57))
    return key


def candidate_pairs(sigs: np.ndarray) -> Iterator[tuple[int, int]]:
    """Pairs of rows that share a band (or the whole signature) and agree on >= PREFILTER of it, each once."""
    n = len(sigs)
    seen: set[tuple[int, int]] = set()
    whole = _band_keys(sigs, 0, NUM_PERM)
    for band in range(BANDS + 1):
        keys = whole if band == BANDS else _band_keys(sigs, band * ROWS, (band + 1) * ROWS)
        order = np.lexsort((whole, keys))
        sk = keys[order]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        ends = np.r_[starts[1:], n]
        for start, end in zip(starts.tolist(), ends.tolist()):
            if end - start < 2:
                continue
            for w in range(start, end, WINDOW):
                rows = order[w:min(w + WINDOW, end)]
                agree = (sigs[rows][:, None, :] == sigs[rows][None, :, :]).mean(axis=2)
                for i, j in zip(*np.nonzero(np.triu(agree >= PREFILTER, 1))):
                    pair = (int(min(rows[i], rows[j])), int(max(rows[i], rows[j])))
                    if pair not in seen:
                        seen.add(pair)
                        yield pair


def side_of(key: str, seed: int, fractions: dict[str, float]) -> str:
    """The side a group key lands on: a hash of (seed, key) mapped into the cumulative fractions."""
    digest = hashlib.blake2b(f"{seed}\0{key}".encode("utf-8"), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2.0 ** 64
    edge = 0.0
    for side in ("eval", "test"):
        edge += fractions.get(side, 0.0)
        if u < edge:
            return side
    return "train"


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, line without its newline) of a JSONL stream; blank lines included."""
    offset = 0
    for number, raw in enumerate(stream, 1):
        yield number, offset, raw.rstrip(b"\r\n")
        offset += len(raw)


def _entries(path: Path) -> Iterator[tuple[int, int, bytes, dict[str, Any] | None, str | None]]:
    """(line or row number, where to find it again, the line to write, the record or None, why not) per line."""
    if _is_parquet(path):
        from qaug.parquet_io import parquet_values

        for entry in parquet_values(path, path.name):
            if isinstance(entry, InputReject):  # a row JSON cannot hold: a reject of the split, as a bad line is
                yield entry.line or 0, (entry.line or 1) - 1, entry.raw.encode("utf-8"), None, entry.reason
                continue
            row, value, text = entry
            yield row, row - 1, text.encode("utf-8"), value, None
        return
    with open_binary(path) as stream:
        for line, offset, raw in _lines(stream):
            if is_bracket(raw):  # an -o out.json array: one element a line
                continue
            raw = array_element(raw)
            yield (line, offset, raw, *_parse(raw))


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(".parquet")


class _Lookup:
    """One line again, by the locator _entries gave it: a byte offset in JSONL, a row index in Parquet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[bytes] | None = None
        self._pf: Any = None
        self._starts: list[int] = []
        self._group: tuple[int, list[dict[str, Any]]] | None = None

    def __enter__(self) -> "_Lookup":
        if _is_parquet(self.path):
            from qaug.parquet_io import pyarrow_modules

            self._pf = pyarrow_modules()[1].ParquetFile(self.path)
            meta, start = self._pf.metadata, 0
            for g in range(meta.num_row_groups):
                self._starts.append(start)
                start += meta.row_group(g).num_rows
        else:
            self._stream = open_binary(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stream is not None:
            self._stream.close()

    def get(self, locator: int) -> dict[str, Any] | None:
        if self._stream is not None:
            self._stream.seek(locator)
            return _parse(array_element(self._stream.readline()))[0]
        g = max(i for i, start in enumerate(self._starts) if start <= locator)  # few row groups: a scan is fine
        if self._group is None or self._group[0] != g:  # one row group decoded at a time
            self._group = (g, self._pf.read_row_group(g).to_pylist())
        value = self._group[1][locator - self._starts[g]]
        return {k: v for k, v in value.items() if v is not None}


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    if not raw.strip():
        return None, "blank line"
    try:
        value = jsonio.loads(raw)
    except (jsonio.JSONLineError, ValueError) as exc:
        return None, f"invalid JSON: {exc}"
    if not isinstance(value, dict):
        return None, "line is not a JSON object"
    return value, None


def _names(value: dict[str, Any], source: str, line: int) -> tuple[str, str | None, str | None, str]:
    """(original node, record-id node or None, the line's original id when it is an original, method)."""
    prov = value.get("_qaug")
    rid = value.get("id")
    rnode = f"r:{rid}" if isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid) else None
    if isinstance(prov, dict):
        parent, own = prov.get("parent"), prov.get("id")
        method = str(prov.get("method") or "original")
        if isinstance(parent, str) and parent:
            return f"q:{parent}", rnode, None, method
        if isinstance(own, str) and own:
            return f"q:{own}", rnode, own, "original"
    own = str(rid) if rnode else f"{source}:{line}"
    return f"q:{own}", rnode, own, "original"


#: every file a split writes into its folder (and --emit llama-factory's config); --overwrite removes them all
SPLIT_FILES = ("train.jsonl", "eval.jsonl", "test.jsonl", "eval.variants.jsonl", "test.variants.jsonl",
               "rejects.jsonl", "split.report.json", "README.md", "dataset_info.json")


def split_file(path: Path, out_dir: Path, fractions: dict[str, float], seed: int = 0,
               near_dup: float = 0.85, keep_eval_variants: bool = False, overwrite: bool = False) -> SplitReport:
    """Split one JSONL output into out_dir/{train,eval,test}.jsonl by group; returns the report."""
    for side, frac in fractions.items():
        if not 0.0 <= frac < 1.0:
            raise UsageError(f"--{side} must be at least 0 and below 1, not {frac}")
    if sum(fractions.values()) >= 1.0:
        raise UsageError(f"--eval + --test must be below 1 (train gets the rest), not {sum(fractions.values()):g}")
    if not 0.0 < near_dup <= 1.0:
        raise UsageError(f"--near-dup must be above 0 and at most 1, not {near_dup}")
    if not path.exists():
        raise UsageError(f"cannot read {path}: no such file")
    if not path.is_file():
        raise UsageError(f"cannot read {path}: it is a folder, not a file")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"-o {out_dir} is a file; -o names the folder the split is written into")
    sides = ["train", "eval"] + (["test"] if fractions.get("test") else [])
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = [n for n in SPLIT_FILES if (out_dir / n).exists()]
    own = next((n for n in existing if same_file(path, out_dir / n)), None)
    if own is not None:
        raise UsageError(f"{path} is a file of the split in {out_dir}, which the split replaces; split into another "
                         "folder")
    if existing and not overwrite:
        raise UsageError(f"{out_dir / existing[0]} exists; pass --overwrite to replace the split")
    report = SplitReport(input=str(path), seed=seed, fractions=dict(fractions), near_dup_threshold=near_dup,
                         keep_eval_variants=keep_eval_variants)
    groups = _Groups()
    _first_pass(path, groups, near_dup, report)
    keys = _group_keys(groups)
    report.groups = len({groups.find(i) for i, name in enumerate(groups.index) if name.startswith("q:")})
    _second_pass(path, out_dir, sides, groups, keys, seed, fractions, keep_eval_variants, report)
    for name in set(existing) - set(report.files) - {"split.report.json", "README.md"}:
        (out_dir / name).unlink()  # the earlier split's files this one did not replace: a stale test.jsonl
    write_json_atomic(out_dir / "split.report.json", report.as_json())
    from qaug.card import write_card  # the card reads this module's report type

    write_card(out_dir, path, report)
    return report


def _first_pass(path: Path, groups: _Groups, near_dup: float, report: SplitReport) -> None:
    """Groups from parents and record ids, then near-duplicate originals merged (candidates re-read to confirm)."""
    sig_rows = array("I")  # NUM_PERM values per original with a prompt
    offsets, lines, nodes = array("q"), array("q"), array("q")
    seen = bytearray()  # node -> 1 once its original's prompt is in
    source = path.name
    for line, offset, _raw, value, _ in _entries(path):
        if value is None:
            continue
        qnode, rnode, own, _method = _names(value, source, line)
        q = groups.node(qnode)
        if rnode is not None:
            groups.union(q, groups.node(rnode))
        if q >= len(seen):
            seen.extend(bytes(q + 4096 - len(seen)))
        if own is None or seen[q]:
            continue
        text = prompt_text(value)
        if not text.strip():
            continue
        seen[q] = 1
        sig_rows.extend(minhash(text))
        offsets.append(offset)
        lines.append(line)
        nodes.append(q)
    del seen
    if len(nodes) < 2:
        return
    sigs = np.frombuffer(sig_rows, dtype=np.uint32).reshape(len(nodes), NUM_PERM)
    with _Lookup(path) as lookup:
        for a, b in candidate_pairs(sigs):
            _confirm(lookup, (offsets[a], lines[a], nodes[a]), (offsets[b], lines[b], nodes[b]), source,
                     groups, near_dup, report)


def _confirm(lookup: _Lookup, first: tuple[int, int, int], second: tuple[int, int, int], source: str,
             groups: _Groups, near_dup: float, report: SplitReport) -> None:
    """Merge two originals' groups when their prompts are near-duplicates by qaug's character n-gram similarity."""
    if groups.find(first[2]) == groups.find(second[2]):
        return
    found = []
    for offset, line, _ in (first, second):
        value = lookup.get(offset)
        if value is None:
            return
        found.append((_names(value, source, line)[2], prompt_text(value)))
    (a_id, a_text), (b_id, b_text) = found
    score = similarity(a_text, b_text)
    if score < near_dup:
        return
    groups.union(first[2], second[2])
    report.merged_pairs += 1
    if len(report.merged_examples) < EXAMPLES:
        report.merged_examples.append({"a": a_id, "b": b_id, "similarity": round(score, 3),
                                       "a_text": a_text[:200], "b_text": b_text[:200]})


def _group_keys(groups: _Groups) -> dict[int, str]:
    """Root -> the group's key: its smallest original id (a record id only where it has no original)."""
    keys: dict[int, str] = {}
    fallback: dict[int, str] = {}
    for name, i in groups.index.items():
        root = groups.find(i)
        target = keys if name.startswith("q:") else fallback
        if root not in target or name[2:] < target[root]:
            target[root] = name[2:]
    for root, key in fallback.items():
        keys.setdefault(root, key)
    return keys


def _second_pass(path: Path, out_dir: Path, sides: list[str], groups: _Groups, keys: dict[int, str], seed: int,
                 fractions: dict[str, float], keep_eval_variants: bool, report: SplitReport) -> None:
    files: dict[str, IO[bytes]] = {}
    tmp: dict[str, Path] = {}

    def out(name: str) -> IO[bytes]:
        if name not in files:
            tmp[name] = out_dir / f".{name}.partial"
            files[name] = open(tmp[name], "wb")
        return files[name]

    stats: dict[str, dict[str, Any]] = {
        s: {"lines": 0, "originals": 0, "variants": 0, "groups": set(), "methods": Counter()} for s in sides}
    held: Counter = Counter()
    formats: Counter = Counter()
    roles: Counter = Counter()
    columns: Counter = Counter()
    side_cache: dict[int, str] = {}
    source = path.name
    try:
        for s in sides:
            out(f"{s}.jsonl")
        for line, _, raw, value, reason in _entries(path):
            report.lines += 1
            if value is None:
                report.rejects += 1
                out("rejects.jsonl").write(jsonio.dumps({"source": source, "line": line, "reason": reason,
                                                         "raw": raw.decode("utf-8", "replace")}) + b"\n")
                continue
            qnode, _, own, method = _names(value, source, line)
            root = groups.find(groups.index[qnode])
            side = side_cache.get(root)
            if side is None:
                side = side_cache[root] = side_of(keys[root], seed, fractions)
            if own is None and side != "train" and not keep_eval_variants:
                held[side] += 1
                out(f"{side}.variants.jsonl").write(raw + b"\n")
                continue
            _shape(value, formats, roles, columns)
            st = stats[side]
            st["lines"] += 1
            st["originals" if own is not None else "variants"] += 1
            st["groups"].add(root)
            st["methods"][method] += 1
            out(f"{side}.jsonl").write(raw + b"\n")
    finally:
        for fh in files.values():
            fh.close()
    for name, p in tmp.items():
        os.replace(p, out_dir / name)
        report.files.append(name)
    report.sides = {s: {**{k: v for k, v in st.items() if k not in ("groups", "methods")},
                        "groups": len(st["groups"]), "methods": dict(sorted(st["methods"].items()))}
                    for s, st in stats.items()}
    report.held_out_variants = dict(held)
    report.formats, report.roles, report.keys = dict(formats), dict(roles), dict(columns)


def _shape(value: dict[str, Any], formats: Counter, roles: Counter, keys: Counter) -> None:
    """Formats, conversation roles and top-level keys of the written lines: what trainer configs map."""
    fmt = detect_format(value) or "unknown"
    formats[fmt] += 1
    for key in value:
        if key in keys or len(keys) < MAX_SHAPES:
            keys[key] += 1
    if fmt in ("sharegpt", "messages"):
        turns, speaker = (value.get("conversations"), "from") if fmt == "sharegpt" else (value.get("messages"), "role")
        for turn in turns if isinstance(turns, list) else ():
            role = turn.get(speaker) if isinstance(turn, dict) else None
            if isinstance(role, str) and (role in roles or len(roles) < MAX_SHAPES):
                roles[role] += 1
