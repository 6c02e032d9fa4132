"""Read a GGUF file's header without loading it: clear errors before llama.cpp sees the file.

llama.cpp answers a truncated or foreign file with a C-level log and a generic Python
exception; reading the header ourselves lets qaug say exactly what is wrong in one line,
and gives `qaug models` / `qaug doctor` the architecture, size, quantisation and template.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from qaug.errors import ModelError

MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# ggml tensor types: (elements per block, bytes per block), for the truncation check.
_TYPE_SIZES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17),
}
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE",
}
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


@dataclass
class GGUFInfo:
    """What qaug needs to know about a model file before loading it."""

    path: Path
    version: int
    metadata: dict[str, Any]
    array_lengths: dict[str, int]
    tensor_count: int
    n_params: int
    data_start: int
    expected_size: int
    size: int
    shards: list[Path] = field(default_factory=list)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.name)

    @property
    def quantization(self) -> str:
        ft = self.metadata.get("general.file_type")
        if isinstance(ft, int):
            return FILE_TYPES.get(ft, f"type {ft}")
        match = re.search(r"(I?Q\d_[A-Z0-9_]+|Q\d_\d|F16|BF16|F32)", self.path.name, re.IGNORECASE)
        return match.group(1).upper() if match else "unknown"

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if isinstance(value, int) else None

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def vocab_size(self) -> int:
        return self.array_lengths.get("tokenizer.ggml.tokens", 0)


class _Reader:
    def __init__(self, fh: IO[bytes], path: Path) -> None:
        self.fh, self.path = fh, path

    def take(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ModelError(f"{self.path}: truncated GGUF header (file ends at byte {self.fh.tell()})")
        return data

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.scalar("<Q")
        if n > 1 << 30:
            raise ModelError(f"{self.path}: corrupt GGUF header (a string claims {n} bytes)")
        return self.take(n).decode("utf-8", "replace")

    def skip_strings(self, count: int) -> None:
        """Skip a string array (a 262k-token vocabulary) through a buffer: one read per MB, not per string."""
        buf, pos = b"", 0
        for _ in range(count):
            while len(buf) - pos < 8:
                more = self.fh.read(1 << 20)
                if not more:
                    raise ModelError(f"{self.path}: truncated GGUF header (in a string array)")
                buf, pos = buf[pos:] + more, 0
            n = int.from_bytes(buf[pos:pos + 8], "little")
            if n > 1 << 30:
                raise ModelError(f"{self.path}: corrupt GGUF header (a string claims {n} bytes)")
            pos += 8 + n
            while pos > len(buf):
                more = self.fh.read(max(1 << 20, pos - len(buf)))
                if not more:
                    raise ModelError(f"{self.path}: truncated GGUF header (in a string array)")
                buf += more
        self.fh.seek(pos - len(buf), os.SEEK_CUR)  # give back what was read past the array

    def value(self, vtype: int, key: str, lengths: dict[str, int]) -> Any:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype, count = self.scalar("<I"), self.scalar("<Q")
            lengths[key] = count
            if itype == _STRING:
                self.skip_strings(count)
                return None
            if itype in _SCALARS:
                self.fh.seek(struct.calcsize(_SCALARS[itype]) * count, os.SEEK_CUR)
                return None
            for _ in range(count):
                self.value(itype, key + "[]", {})
            return None
        raise ModelError(f"{self.path}: corrupt GGUF header (unknown value type {vtype} for {key})")


def read_gguf(path: Path) -> GGUFInfo:
    """Parse the header and tensor table; ModelError (one line) for anything not a usable GGUF."""
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelError(f"model path is a directory, not a .gguf file: {path}")
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            r = _Reader(fh, path)
            magic = fh.read(4)
            if magic != MAGIC:
                raise ModelError(f"{path}: not a GGUF file (starts with {magic[:4]!r}, expected b'GGUF')")
            version = r.scalar("<I")
            if version not in (2, 3):
                raise ModelError(f"{path}: unsupported GGUF version {version}")
            n_tensors, n_kv = r.scalar("<Q"), r.scalar("<Q")
            if n_tensors > 1 << 24 or n_kv > 1 << 24:
                raise ModelError(f"{path}: corrupt GGUF header (counts {n_tensors}, {n_kv})")
            meta: dict[str, Any] = {}
            lengths: dict[str, int] = {}
            for _ in range(n_kv):
                key = r.string()
                vtype = r.scalar("<I")
                value = r.value(vtype, key, lengths)
                if value is not None:
                    meta[key] = value
            n_params, end = 0, 0
            for _ in range(n_tensors):
                r.string()
                n_dims = r.scalar("<I")
                dims = [r.scalar("<Q") for _ in range(n_dims)]
                ttype, offset = r.scalar("<I"), r.scalar("<Q")
                count = 1
                for d in dims:
                    count *= d
                n_params += count
                block, nbytes = _TYPE_SIZES.get(ttype, (1, 0))
                end = max(end, offset + (count // block) * nbytes)
            alignment = int(meta.get("general.alignment", 32) or 32)
            pos = fh.tell()
            data_start = pos + (-pos % alignment)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    expected = data_start + end
    if size < expected:
        raise ModelError(f"{path}: truncated GGUF ({size:,} bytes, its tensor table needs {expected:,}); "
                         "download it again")
    info = GGUFInfo(path=path, version=version, metadata=meta, array_lengths=lengths, tensor_count=n_tensors,
                    n_params=n_params, data_start=data_start, expected_size=expected, size=size)
    info.shards = split_shards(path)
    return info


def split_shards(path: Path) -> list[Path]:
    """All shards of a split model (`x-00001-of-00003.gguf`), checked to exist; [path] otherwise."""
    match = _SPLIT.match(path.name)
    if not match:
        return [path]
    count = int(match["count"])
    shards = [path.with_name(f"{match['stem']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    missing = [s.name for s in shards if not s.exists()]
    if missing:
        raise ModelError(f"split model is missing shard(s): {', '.join(missing)}")
    return shards


def first_shard(path: Path) -> Path:
    """A split model is loaded from its first shard, whichever shard the user named."""
    match = _SPLIT.match(path.name)
    if not match:
        return path
    return path.with_name(f"{match['stem']}-00001-of-{match['count']}.gguf")
