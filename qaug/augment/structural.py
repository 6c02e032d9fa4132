"""Structural perturbations of JSON: same facts, different shape.

Models fine-tuned on JSON answers over-fit to one key order, one nesting, one layout.
These methods rewrite the JSON documents found in a record's texts (or, with
`--target record`, the record object itself) without touching anything else, and always
produce strictly valid JSON. `perturb` picks one of them per record; it is the path that
runs over millions of records, so the per-record work is kept lean: documents are parsed
once, only changed containers are copied, and randomness is drawn a few bits at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Union, cast

import orjson

from qaug import jsonio
from qaug.augment.base import Augmenter, Failure, Outcome, Param, Skip, Variant
from qaug.augment.registry import register, register_group
from qaug.augment.jsondoc import (
    NotApplicable, Span, Style, add_fields_value, find_documents, flatten_value, nest_value, render, retype_value,
    splice,
)
from qaug.augment.tables import TableConvert
from qaug.errors import UsageError
from qaug.records import DEFAULT_FIELDS, FieldPath, Record, iter_texts, with_texts
from qaug.rng import Rng

__all__ = [
    "NotApplicable", "Perturb", "StructuralAugmenter", "TableConvert", "add_fields_value", "flatten_value",
    "nest_value", "null_inject_value", "retype_value", "shuffle_keys_value",
]

#: (path, text, its JSON documents) per selected text
DocList = list[tuple[FieldPath, str, list[Span]]]
Docs = Union[DocList, str, None]
_TWO64 = 1 << 64
_NO_DOCS = "no JSON object or array in the selected texts"
_SAME = "nothing would change"
_TOO_DEEP = f"the JSON would be nested deeper than {jsonio.MAX_DEPTH} levels, which it cannot be written with"
# Keys that make a record what it is (every format's fields, and the id): never nulled or retyped when the record
# itself is the target, or the record would no longer read as its format.
_FORMAT_KEYS = frozenset({"instruction", "input", "output", "system", "conversations", "messages", "from", "value",
                          "role", "content", "text", "prompt", "completion", "id"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TOKEN = re.compile(r"[^\W_]+")


# -- randomness -------------------------------------------------------------------------------

class _Pool:
    """Shuffles from as few 64-bit draws as possible.

    A `next64` costs as much as shuffling a small object. Each draw is used as a
    mixed-radix number across consecutive shuffles and refilled whenever what is left of
    it falls under 2**29 times the permutations wanted, which keeps the bias below 2**-29;
    a 20-key object with a few small ones nested usually takes a single draw.
    """

    __slots__ = ("_rng", "_r", "_cap")

    def __init__(self, rng: Rng) -> None:
        self._rng = rng
        self._r = 0
        self._cap = 0

    def permute(self, items: list[Any]) -> None:
        """Fisher-Yates in place."""
        i = len(items)
        if i > 20:
            self._rng.shuffle(items)  # big objects: a draw per swap is noise next to the rest
            return
        f = _FACT[i]
        if self._cap < f << 29:
            if f < 1 << 35:
                self._r, self._cap = self._rng.next64(), _TWO64
            else:
                self._r, self._cap = self._rng.next64() << 64 | self._rng.next64(), _TWO64 << 64
        r = self._r
        self._cap //= f
        while i > 1:
            j = r % i
            r //= i
            i -= 1
            items[i], items[j] = items[j], items[i]
        self._r = r


_FACT = [1]
for _n in range(1, 21):
    _FACT.append(_FACT[-1] * _n)


def _permute(items: list[Any], rng: Rng) -> None:
    _Pool(rng).permute(items)


def _shuffle(value: dict[str, Any], pool: _Pool, force: list[bool]) -> dict[str, Any]:
    items = list(value.items())
    if len(items) > 1:
        if force[0]:
            force[0] = False
            before = items.copy()
            pool.permute(items)
            if items == before:  # same tuple objects: compared by identity, cheaply
                items.append(items.pop(0))
        else:
            pool.permute(items)
    out = {}
    for k, x in items:
        t = type(x)
        if t is dict:
            x = _shuffle(x, pool, force)
        elif t is list:
            x = _shuffle_list(x, pool, force)
        out[k] = x
    return out


def _shuffle_list(value: list[Any], pool: _Pool, force: list[bool]) -> list[Any]:
    out = None
    for i, x in enumerate(value):
        t = type(x)
        if t is dict:
            y: Any = _shuffle(x, pool, force)
        elif t is list:
            y = _shuffle_list(x, pool, force)
        else:
            continue
        if out is None:
            out = value.copy()
        out[i] = y
    return value if out is None else out


def shuffle_keys_value(value: Any, rng: Rng) -> Any:
    """Every object's keys in a new random order; the first object with 2+ keys always moves."""
    force = [True]
    pool = _Pool(rng)
    if type(value) is dict:
        out: Any = _shuffle(value, pool, force)
    elif type(value) is list:
        out = _shuffle_list(value, pool, force)
    else:
        out = value
    if force[0]:
        raise NotApplicable("no object with two or more keys")
    return out


def null_inject_value(value: Any, rng: Rng, p: float, protected: Callable[[str], bool],
                      decided: dict[str, bool] | None = None) -> tuple[Any, list[FieldPath]]:
    """(copy with object leaves set to null at probability p (at least one), the paths nulled).

    Only non-null scalar members of objects are eligible; a protected key keeps its whole
    subtree. `decided` memoises `protected` across calls that share it. One pass draws for
    each eligible leaf as it is met (10 bits each, six leaves to a next64) and copies only
    the containers that change; if no leaf was drawn, a second pass nulls one at random.
    """
    if type(value) is not dict and type(value) is not list:
        raise NotApplicable("no leaf that may become null")
    memo = {} if decided is None else decided
    threshold = round(p * 1024)
    chosen: list[FieldPath] = []
    bits = left = seen = 0
    pick = -1  # >= 0: null exactly the eligible leaf with this index instead of drawing

    def walk(value: Any, path: FieldPath) -> Any:
        nonlocal bits, left, seen
        out = None
        is_obj = type(value) is dict
        k: Any  # a key (str) when is_obj, else an index
        for k, x in value.items() if is_obj else enumerate(value):
            t = type(x)
            if is_obj:
                skip = memo.get(k)
                if skip is None:
                    skip = memo[k] = protected(k)
                if skip:
                    continue
            if t is dict or t is list:
                y = walk(x, path + (k,))
                if y is x:
                    continue
            elif x is None or not is_obj:
                continue
            else:
                seen += 1
                if pick >= 0:
                    if seen - 1 != pick:
                        continue
                else:
                    if not left:
                        bits = rng.next64()
                        left = 6
                    draw = bits & 1023
                    bits >>= 10
                    left -= 1
                    if draw >= threshold:
                        continue
                y = None
                chosen.append(path + (k,))
            if out is None:
                out = value.copy()
            out[k] = y
        return value if out is None else out

    new = walk(value, ())
    if not chosen:
        if not seen:
            raise NotApplicable("no leaf that may become null")
        pick, seen = rng.randrange(seen), 0
        new = walk(value, ())
    return new, chosen


# -- the augmenters -----------------------------------------------------------------------------

def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(_CAMEL.sub(" ", text).casefold())


# Keys and prompts repeat across a dataset: their normal forms are cached (bounded).
_KEY_FORMS: dict[str, tuple[int, tuple[str, ...]]] = {}
_CACHE_MAX = 1 << 16


def _key_form(key: str) -> tuple[int, tuple[str, ...]]:
    """(0, (" word word ", " word ", ...)) to look up among the prompt's words: the whole key, or any
    of its words of 4+ letters ("revenue" names revenue_musd; sparing too much is the safe side);
    (1, (text,)) to find as a substring (keys in scripts written without spaces, e.g. CJK);
    (2, ()) never mentioned."""
    form = _KEY_FORMS.get(key)
    if form is None:
        stripped = key.strip()
        if not stripped:
            form = (2, ())
        elif not key.isascii():
            form = (1, (stripped.casefold(),))
        else:
            tokens = _tokens(key)
            words = tuple(f" {t} " for t in tokens if len(t) >= 4 and t.isalpha() and len(tokens) > 1)
            form = (0, (" " + " ".join(tokens) + " ",) + words) if tokens else (1, (stripped.casefold(),))
        if len(key) <= 64:
            if len(_KEY_FORMS) >= _CACHE_MAX:
                _KEY_FORMS.clear()
            _KEY_FORMS[key] = form
    return form


class _Prompt:
    """A prompt's prose in the forms key lookups need, and per-protect-set decisions about keys."""

    __slots__ = ("raw", "words", "decided")

    def __init__(self, prose: str) -> None:
        self.raw = prose.casefold()
        self.words = " " + " ".join(_tokens(prose)) + " "
        self.decided: dict[frozenset[str], dict[str, bool]] = {}

    def mentions(self, key: str) -> bool:
        """Whether the prose names `key`: as whole words (first_name ~ "first name" ~ firstName),
        or as a substring for keys in scripts written without spaces (CJK)."""
        mode, needles = _key_form(key)
        hay = self.words if mode == 0 else self.raw
        return any(n in hay for n in needles)

    def decisions(self, protect: frozenset[str]) -> dict[str, bool]:
        memo = self.decided.get(protect)
        if memo is None or len(memo) > 256:  # bounded: keys can be data (ids, dates)
            memo = self.decided[protect] = {}
        return memo


_PROMPTS: dict[str, _Prompt] = {}


class _Ctx:
    """Per-record facts some methods need, computed at most once: the prompt's prose."""

    __slots__ = ("record", "_prompt")

    def __init__(self, record: Record) -> None:
        self.record = record
        self._prompt: _Prompt | None = None

    def prompt(self) -> _Prompt:
        """The instruction / user turns, minus any JSON quoted in them (data, not mentions)."""
        if self._prompt is not None:
            return self._prompt
        prose = []
        rec = self.record
        for _, text in iter_texts(rec.data, rec.fmt, DEFAULT_FIELDS.get(rec.fmt, ())):
            spans = find_documents(text)
            if spans:
                cuts = [0] + [x for sp in spans for x in (sp.outer_start, sp.outer_end)] + [len(text)]
                text = "".join(text[cuts[i] : cuts[i + 1]] for i in range(0, len(cuts), 2))
            prose.append(text)
        key = "\n".join(prose)
        found = _PROMPTS.get(key)
        if found is None:
            found = _Prompt(key)
            if len(key) <= 2000:  # templated prompts repeat; long unique ones are not worth keeping
                if len(_PROMPTS) >= 1024:
                    _PROMPTS.clear()
                _PROMPTS[key] = found
        self._prompt = found
        return found


_PATH_NAMES: dict[FieldPath, str] = {}


def _path_name(path: FieldPath) -> str:
    """"messages.2.content" for ("messages", 2, "content"), cached: the same few paths recur."""
    name = _PATH_NAMES.get(path)
    if name is None:
        name = ".".join(map(str, path))
        if len(_PATH_NAMES) < 4096:
            _PATH_NAMES[path] = name
    return name


class StructuralAugmenter(Augmenter):
    """Shared driver: find the JSON documents once, `edit` each, splice the texts back."""

    #: whether the method makes sense on the record object itself (--target record).
    record_ok = True

    def setup(self) -> None:
        # Parameters as plain attributes: Augmenter.__getattr__ is a slow path per access.
        self.__dict__.update(self._params)

    def edit(self, value: Any, rng: Rng, ctx: _Ctx, span: Span | None) -> tuple[Any, str | None, dict[str, Any]]:
        """(new value, its rendered text or None for the span's style, info); raise NotApplicable."""
        raise NotImplementedError

    def augment(self, record: Record, rng: Rng) -> Iterator[Outcome]:
        yield self.outcome(record, rng)

    def augment_many(self, units: Sequence[tuple[Record, Rng]]) -> list[list[Outcome]]:
        """As the base (aligned with `units`, a bug becomes that unit's Failure), minus a
        generator per record: this runs once per record per method."""
        outcome = self.outcome
        results: list[list[Outcome]] = []
        for record, rng in units:
            try:
                results.append([outcome(record, rng)])
            except Exception as exc:  # noqa: BLE001 - reported per unit, with its type
                results.append([Failure(f"internal error in {self.name}: {type(exc).__name__}: {exc}")])
        return results

    def outcome(self, record: Record, rng: Rng) -> Variant | Skip:
        """The one outcome of this method for `record`."""
        return self.apply(record, self.collect(record), rng, _Ctx(record))

    def collect(self, record: Record) -> Docs:
        """The documents to edit: None for target=record, a Skip reason when there are none."""
        if self.target == "record":
            return None
        problems: list[str] = []
        docs = []
        for path, text in iter_texts(record.data, record.fmt, self.fields_for(record)):
            spans = find_documents(text, problems)
            if spans:
                docs.append((path, text, spans))
        if not docs:
            return problems[0] if problems else _NO_DOCS
        return docs

    def apply(self, record: Record, docs: Docs, rng: Rng, ctx: _Ctx, tag: str | None = None) -> Variant | Skip:
        """One outcome from already collected documents (so `perturb` can try several methods);
        `tag` goes into info as the method that made it."""
        if docs is None:
            if not self.record_ok:
                return Skip(f"{self.name} does not apply to target=record")
            try:
                new, _, info = self.edit(record.data, rng, ctx, None)
                same = jsonio.dumps(new) == jsonio.dumps(record.data)
            except NotApplicable as exc:
                return Skip(str(exc))
            except orjson.JSONEncodeError:  # nesting only: every value here came from strict JSON
                return Skip(_TOO_DEEP)
            if same:
                return Skip(_SAME)
            return Variant(new, {"method": tag, **info} if tag else info)
        if type(docs) is str:
            return Skip(docs)
        changes: dict[FieldPath, str] = {}
        infos = []
        reason = None
        for path, text, spans in cast(DocList, docs):  # None and a str returned above
            edits = []
            for i, span in enumerate(spans):
                try:
                    new, doc, info = self.edit(span.value, rng, ctx, span)
                    if doc is None:
                        doc = render(span, new)
                except NotApplicable as exc:
                    reason = reason or str(exc)
                    continue
                except orjson.JSONEncodeError:  # nesting only: every value here came from strict JSON
                    reason = reason or _TOO_DEEP
                    continue
                if span.unchanged(doc):
                    reason = reason or _SAME
                    continue
                edits.append((span, doc))
                infos.append({"text": _path_name(path), "doc": i, **info})
            if edits:
                changes[path] = splice(text, edits)
        if not changes:
            return Skip(reason or _SAME)
        return Variant(with_texts(record.data, changes), {"method": tag, "docs": infos} if tag else {"docs": infos})


@register
class ShuffleKeys(StructuralAugmenter):
    name = "shuffle_keys"
    description = "Shuffle the key order of every JSON object (recursively); values unchanged."

    def edit(self, value: Any, rng: Rng, ctx: _Ctx, span: Span | None) -> tuple[Any, str | None, dict[str, Any]]:
        return shuffle_keys_value(value, rng), None, {}


@register
class NullInject(StructuralAugmenter):
    name = "null_inject"
    version = "2"  # 2: a key is also spared when one of its words of 4+ letters is named; every nulled path listed
    description = "Set optional JSON leaves to null, sparing protected keys and keys the prompt mentions."
    PARAMS = (
        Param("p", float, 0.3, "probability that an eligible leaf becomes null (at least one does)", min=0.0, max=1.0),
        Param("protect", tuple, (), "key names never nulled (with their subtrees)"),
    )

    def setup(self) -> None:
        super().setup()
        self._protect = frozenset(self.protect) | (_FORMAT_KEYS if self.target == "record" else frozenset())

    def edit(self, value: Any, rng: Rng, ctx: _Ctx, span: Span | None) -> tuple[Any, str | None, dict[str, Any]]:
        protect = self._protect
        prompt = ctx.prompt()

        def protected(key: str) -> bool:
            return key in protect or prompt.mentions(key)

        out, paths = null_inject_value(value, rng, self.p, protected, prompt.decisions(protect))
        return out, None, {"nulled": [_pointer(p) for p in paths], "count": len(paths)}


def _pointer(path: FieldPath) -> str:
    """The JSON Pointer (RFC 6901) of a path."""
    joined = "/".join(map(str, path))
    if "~" not in joined and joined.count("/") == len(path) - 1:
        return "/" + joined
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in path)


@register
class Flatten(StructuralAugmenter):
    name = "flatten"
    description = "Flatten nested JSON objects into dotted keys (arrays and empty objects stay leaves)."
    PARAMS = (
        Param("depth", int, 0, "levels to merge: 0 = all, 1 = one level", min=0, max=64),
        Param("sep", str, ".", "separator between key parts"),
    )

    def setup(self) -> None:
        super().setup()
        if not self.sep:
            raise UsageError("flatten.sep: must not be empty")

    def edit(self, value: Any, rng: Rng, ctx: _Ctx, span: Span | None) -> tuple[Any, str | None, dict[str, Any]]:
        return flatten_value(value, self.depth, self.sep), None, {}


@register
class Nest(StructuralAugmenter):
    name = "nest"
    description = "Expand dotted JSON keys into nested objects (the inverse of flatten)."
    PARAMS = (Param("sep", str, ".", "separator between key parts"),)

    def setup(self) -> None:
        super().setup()
        if not self.sep:
            raise UsageError("nest.sep: must not be empty")

    def edit(self, value: Any, rng: Rng, ctx: _Ctx, span: Span | None) -> tuple[Any, str | None, dict[str, Any]]:
        if span is not None and self.sep not in span.raw:
            raise NotApplicable("no dotted keys to nest")
        return nest_value(value, self.sep), None, {}


@register
class AddFields(StructuralAugmenter):
    name = "add_fields"
    version = "2"  # 2: record_id only from the record's own `id`, never a file:line id
    description = "Add a redundant metadata object (a random choice of key counts, depth, the record's own id, " \
                  "schema version) to JSON objects."
    PARAMS = (Param("key", str, "_meta", "key the metadata object goes under"),)

    def edit(self, value: Any, rng: Rng, ctx: _Ctx, span: Span | None) -> tuple[Any, str | None, dict[str, Any]]:
        own = ctx.record.data.get("id")  # a file:line id would teach the model the dataset's file names
        rid = ctx.record.id if own is not None and str(own) == ctx.record.id else None
        out, names = add_fields_value(value, rng, self.key, rid)
        return out, None, {"fields": names}


@register
class Retype(StructuralAugmenter):
    name = "retype"
    description = "Write JSON numbers as strings or exact numeric strings as numbers (opt-in, changes types)."
    PARAMS = (Param("direction", str, "any", "to_string, to_number, or any (whichever applies, random first)",
                    choices=("any", "to_string", "to_number")),)

    def edit(self, value: Any, rng: Rng, ctx: _Ctx, span: Span | None) -> tuple[Any, str | None, dict[str, Any]]:
        if self.direction != "any":
            order = [self.direction]
        else:
            order = ["to_string", "to_number"] if rng.next64() & 1 else ["to_number", "to_string"]
        reason = None
        for direction in order:
            try:
                out, count = retype_value(value, direction, _FORMAT_KEYS if span is None else frozenset())
            except NotApplicable as exc:
                reason = reason or str(exc)
                continue
            return out, None, {"direction": direction, "count": count}
        raise NotApplicable(reason if len(order) == 1 else "no number or numeric string to retype")


_STYLES = (
    (Style(None, False, True), "compact"), (Style(None, False, False), "spaced"),
    (Style(2, False, False), "indent2"), (Style(4, False, False), "indent4"),
)
_ASCII_STYLES = tuple((Style(s.indent, True, s.compact), n + "+ascii") for s, n in _STYLES)


@register
class Reformat(StructuralAugmenter):
    name = "reformat"
    version = "2"  # 2: Chinese (any non-ASCII text) stays as written unless reformat.ascii is set
    description = "Re-serialise JSON in another layout: compact, spaced, indented 2/4; ASCII-escaped only if asked."
    record_ok = False
    PARAMS = (Param("ascii", bool, False,
                    "also offer \\u-escaped layouts for non-ASCII text (中文 -> \\u4e2d\\u6587)"),)

    def edit(self, value: Any, rng: Rng, ctx: _Ctx, span: Span | None) -> tuple[Any, str | None, dict[str, Any]]:
        assert span is not None
        styles = list(_STYLES)
        # a document already escaped may stay escaped; readable text is escaped only when asked for
        if span.style.ensure_ascii or (self.ascii and not span.raw.isascii()):
            styles += _ASCII_STYLES
        _permute(styles, rng)
        for style, style_name in styles:
            if style == span.style:
                continue
            doc = render(span, value, style)
            if not span.unchanged(doc):
                return value, doc, {"style": style_name}
        raise NotApplicable("every layout gives the same text")


_PERTURB_METHODS = ("shuffle_keys", "null_inject", "flatten", "nest", "add_fields", "reformat")


@register
class Perturb(StructuralAugmenter):
    name = "perturb"
    version = "3"  # 2: its null step spares keys as null_inject 2 does; 3: its reformat keeps Chinese unescaped
    description = "One structural perturbation per record, chosen at random among the applicable ones."
    PARAMS = (
        Param("methods", tuple, _PERTURB_METHODS, "the perturbations to choose from"),
        Param("null_p", float, 0.3, "null_inject.p when null_inject is chosen", min=0.0, max=1.0),
        Param("protect", tuple, (), "null_inject.protect: key names never nulled"),
    )

    def setup(self) -> None:
        super().setup()
        unknown = [m for m in self.methods if m not in _PERTURB_METHODS]
        if unknown or not self.methods:
            raise UsageError(f"perturb.methods: expected some of {', '.join(_PERTURB_METHODS)}, "
                             f"got {', '.join(self.methods) or 'none'}")
        kinds = {c.name: c for c in (ShuffleKeys, NullInject, Flatten, Nest, AddFields, Reformat)}
        params = {"null_inject": {"p": self.null_p, "protect": self.protect}}
        self._subs = [kinds[m](fields=self.fields, target=self.target, **params.get(m, {}))
                      for m in dict.fromkeys(self.methods)]

    def outcome(self, record: Record, rng: Rng) -> Variant | Skip:
        docs = self.collect(record)
        if type(docs) is str:
            return Skip(docs)
        ctx = _Ctx(record)
        subs = self._subs
        first = rng.next64() % len(subs)
        sub = subs[first]
        out = sub.apply(record, docs, rng, ctx, sub.name)
        if type(out) is Variant:
            return out
        rest = subs[:first] + subs[first + 1 :]
        _permute(rest, rng)
        for sub in rest:
            out = sub.apply(record, docs, rng, ctx, sub.name)
            if type(out) is Variant:
                return out
        return Skip("no structural perturbation applies")


register_group("structural", ("shuffle_keys", "null_inject", "flatten", "nest", "add_fields", "reformat",
                              "table_convert"))
