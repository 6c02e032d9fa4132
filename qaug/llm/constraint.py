"""JSON Schema -> llguidance token matcher, compiled once per schema and copied per job.

llguidance is strict by construction: JSON strings never admit raw control characters,
and with the escapes limited below a parsed string cannot hold one via \\uXXXX either,
so whatever the matcher accepts, strict JSON parsing accepts. A schema that does not
compile raises: there is never a silent fallback to a looser grammar.
"""

from __future__ import annotations

import ctypes
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from qaug import jsonio
from qaug.llm.schema import check_schema

if TYPE_CHECKING:
    from llguidance._lib import JsonCompileOptions

# Compact separators like json.dumps; no free whitespace a weak model could spend its budget on.
JSON_OPTIONS: JsonCompileOptions = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
    "json_allowed_escapes": 'nrt"\\',
}


# A grammar "number" admits 1e999, which no double holds and strict parsing refuses; bounding every
# number keeps grammar and parser in agreement (llguidance compiles bounds up to about 1e18).
NUMBER_BOUND = 1e18


def bound_numbers(schema: Any) -> Any:
    """A copy of the schema in which every number has a finite minimum and maximum."""
    if isinstance(schema, list):
        return [bound_numbers(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bound_numbers(v) for k, v in schema.items()}
    kinds = out.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "number" in kinds:
        out.setdefault("minimum", -NUMBER_BOUND)
        out.setdefault("maximum", NUMBER_BOUND)
    return out


class ConstraintError(RuntimeError):
    """The schema cannot be compiled to a grammar, or the matcher reached an error state."""


class Vocabulary:
    """The model's tokens as bytes (special tokens rendered) plus llguidance's tokenizer over them."""

    def __init__(self, vocab_ptr: Any, eog_tokens: list[int]) -> None:
        import llama_cpp as L
        import llguidance

        n = L.llama_vocab_n_tokens(vocab_ptr)
        buf = ctypes.create_string_buffer(16 * 1024)
        pieces: list[bytes] = []
        marked: list[bytes] = []
        control = L.LLAMA_TOKEN_ATTR_CONTROL
        user_defined = L.LLAMA_TOKEN_ATTR_USER_DEFINED
        for tok in range(n):
            k = L.llama_token_to_piece(vocab_ptr, tok, buf, len(buf), 0, True)
            piece = buf.raw[:max(k, 0)]
            pieces.append(piece)
            attr = L.llama_vocab_get_attr(vocab_ptr, tok)
            # Control tokens (and user-defined ones that look like them) get llguidance's 0xff prefix,
            # so they can never be produced as text inside a JSON answer.
            if attr & control or (attr & user_defined and piece.startswith(b"<") and piece.endswith(b">")):
                piece = b"\xff" + piece
            marked.append(piece)
        self.pieces = pieces
        self.size = n
        fptr = ctypes.cast(L.llama_cpp._lib.llama_tokenize, ctypes.c_void_p).value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            # from_llamacpp exists but llguidance's stubs omit it (its own llamacpp.py ignores this too)
            self.tokenizer = llguidance.LLTokenizer.from_llamacpp(  # type: ignore[attr-defined]
                tokens=marked, vocab_ptr=vocab_ptr, tokenize_fptr=fptr, eos_token=eog_tokens[0] if eog_tokens else 0,
                slices=None)

    def detokenize(self, tokens: list[int]) -> bytes:
        """The exact bytes of these tokens, as the matcher saw them (control tokens never occur inside)."""
        return b"".join(self.pieces[t] for t in tokens)


class CompiledSchema:
    """One schema compiled to a matcher template; `start()` gives a fresh matcher for a job."""

    def __init__(self, schema: dict[str, Any], vocab: Vocabulary) -> None:
        import llguidance

        check_schema(schema)
        self.schema = schema
        grammar = llguidance.LLMatcher.grammar_from_json_schema(jsonio.dumps_str(bound_numbers(schema)),
                                                                defaults=JSON_OPTIONS)
        self._template = llguidance.LLMatcher(vocab.tokenizer, grammar, log_level=1)
        if self._template.is_error():
            raise ConstraintError(f"schema does not compile to a grammar: {self._template.get_error()}")

    def start(self) -> "Matcher":
        return Matcher(self._template.deep_copy())


class Matcher:
    """Per-job grammar state: the mask of allowed next tokens, and consuming the chosen one."""

    __slots__ = ("_m",)

    def __init__(self, matcher: Any) -> None:
        self._m = matcher

    def check(self) -> None:
        """Raise if the matcher is in an error state (e.g. after a mask computed by MaskSet)."""
        if self._m.is_error():
            raise ConstraintError(self._m.get_error())

    def consume(self, token: int) -> None:
        if not self._m.consume_token(token):
            raise ConstraintError(self._m.get_error() or f"token {token} rejected by the grammar")

    def is_stopped(self) -> bool:
        return bool(self._m.is_stopped())


def mask_words(n_vocab: int) -> int:
    """int32 words in one bitmask row."""
    return (n_vocab + 31) // 32


class MaskSet:
    """Bitmask rows for a batch of matchers, filled in one call.

    llguidance computes the rows on its own thread pool with the GIL released, so a batch
    of N sequences costs one Python call per step instead of N.
    """

    def __init__(self, rows: int, n_vocab: int, threads: int | None = None) -> None:
        import llguidance

        self.rows = np.zeros((rows, mask_words(n_vocab)), dtype=np.int32)
        self._executor = llguidance.LLExecutor(num_threads=threads)

    def fill(self, matchers: list[Matcher]) -> np.ndarray:
        """Row i gets matcher i's next-token mask; check each matcher's `check()` before using its row."""
        if len(matchers) == 1:
            import llguidance.numpy as lnp

            lnp.fill_next_token_bitmask(matchers[0]._m, self.rows)
        else:
            self._executor.unsafe_compute_mask_ptr([(m._m, i) for i, m in enumerate(matchers)],
                                                   self.rows.ctypes.data, self.rows.shape[1] * 4, self.rows.shape[0])
        return self.rows
