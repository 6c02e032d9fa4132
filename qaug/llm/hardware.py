"""How many sequences to decode together on this machine: the default --parallel from the hardware,
the model's KV size and the memory, apart from the batching code that uses it."""

from __future__ import annotations

import os
from typing import Any

#: Sequences decoded together when the model runs on a GPU: decode is memory-bound there, so a
#: step of 8 tokens costs about what one costs.
GPU_PARALLEL = 8
#: On a CPU the step cost grows with N sooner. Measured on the 2-core dev box with gemma-3-270m
#: (BENCHMARKS.md): aggregate tokens/s over 1 stream is about 1.9-2.9x at N=4, 2.5-3.9x at N=8 and
#: 3.0-4.6x at N=16; past 8 each doubling of N (and of KV memory, and of the time until the first
#: answers come back) buys only ~20% more, so 8 is the default.
CPU_PARALLEL = 8
#: At most this share of physical memory goes to the KV cache when choosing N on a CPU.
KV_MEMORY_SHARE = 0.25


def kv_bytes_per_token(metadata: dict[str, Any]) -> int:
    """f16 K+V bytes one token takes in the cache, from GGUF metadata (0 when unknown)."""
    arch = metadata.get("general.architecture")

    def get(key: str, default: Any = None) -> Any:
        return metadata.get(f"{arch}.{key}", default)

    try:
        layers, embd, heads = int(get("block_count")), int(get("embedding_length")), int(get("attention.head_count"))
        kv_heads = int(get("attention.head_count_kv", heads))
        k = int(get("attention.key_length", embd // heads))
        v = int(get("attention.value_length", embd // heads))
    except (TypeError, ValueError, ZeroDivisionError):
        return 0
    return layers * kv_heads * (k + v) * 2


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def choose_parallel(*, gpu: bool, n_ctx: int, kv_per_token: int, memory: int | None) -> int:
    """Default --parallel: the hardware's sweet spot, lowered until N+1 full contexts of KV fit the memory share."""
    want = GPU_PARALLEL if gpu else CPU_PARALLEL
    if not gpu and memory and kv_per_token:
        fit = int(memory * KV_MEMORY_SHARE) // (kv_per_token * n_ctx) - 1  # one context for the shared prefix
        want = min(want, fit)
    return max(1, want)
