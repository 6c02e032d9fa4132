"""The llama.cpp engine: one GGUF loaded in-process, N sequences decoded in one context.

Each job gets a slot (a sequence id). Every step decodes one token for every active slot in a
single llama_decode call, together with the prompt tokens of jobs that just started; each
slot is then sampled under its own grammar matcher, and a finished slot takes the next job
at once (continuous batching).

Prompts share their beginning (system prompt, a method's fixed instructions): that part is
evaluated once, kept in a reserved sequence, and copied into each slot's KV cache, so a job
evaluates only its own text (see batch.PrefixCache).

What the default mode trades: batched decoding is not bit-reproducible. The logits of one
sequence depend, in the last bits, on which other tokens share its batch and KV cells, so the
same job can give a different answer with a different --parallel, a different job order or a
reused prefix. Every answer is still grammar-valid and schema-checked. `deterministic=True`
decodes one job at a time from an empty cache, with no prefix reuse: reruns (same model, build
and threads) give byte-identical answers, at single-stream speed.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from qaug.errors import ModelError
from qaug.llm.batch import PrefixCache, TokenBatch, common_prefix
from qaug.llm.hardware import choose_parallel, kv_bytes_per_token, physical_memory
from qaug.llm.constraint import CompiledSchema, ConstraintError, MaskSet, Matcher, Vocabulary
from qaug.llm.engine import Engine, Job, Raw, ScoreRequest, Surprisal
from qaug.llm.gguf_file import GGUFInfo, first_shard, read_gguf
from qaug.llm.logs import LlamaLog
from qaug.llm.options import EngineOptions
from qaug.llm.sampling import BatchSampler
from qaug.llm.templates import ChatTemplate, PromptFormatter, resolve_template
from qaug import jsonio

MIN_PREFIX = 16  # shared prompt tokens worth a KV copy; fewer: the prompt is a new prefix


def default_threads() -> int:
    """Physical parallelism available to us; ggml's spinning threads must not oversubscribe."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


@dataclass
class _Slot:
    seq: int
    job: Job | None = None
    matcher: Matcher | None = None
    rng: np.random.Generator | None = None
    pos: int = 0
    prompt_tokens: int = 0
    out: list[int] = field(default_factory=list)
    last: int = -1


class LlamaCppEngine(Engine):
    """Grammar-constrained JSON generation with llama-cpp-python's low-level API."""

    def __init__(self, model_path: Path, options: EngineOptions | None = None) -> None:
        super().__init__()
        import llama_cpp as L

        self._L = L
        self.options = opts = options or EngineOptions()
        path = first_shard(Path(model_path))
        self.info: GGUFInfo = read_gguf(path)
        self.model_path = path
        self.log = LlamaLog(opts.log_path, verbose=opts.verbose)
        self.log.install()
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        self.n_gpu_layers = self._gpu_layers(opts.n_gpu_layers)
        mp.n_gpu_layers = self.n_gpu_layers
        t0 = time.perf_counter()
        self._model = L.llama_model_load_from_file(str(path).encode("utf-8"), mp)
        if not self._model:
            raise ModelError(f"llama.cpp could not load {path.name} ({self.info.architecture}); "
                             f"see {self.log.where()} for its log")
        self.load_seconds = time.perf_counter() - t0
        self._vocab_ptr = L.llama_model_get_vocab(self._model)
        self.n_vocab = L.llama_vocab_n_tokens(self._vocab_ptr)
        trained = L.llama_model_n_ctx_train(self._model)
        self.n_ctx = opts.n_ctx or min(trained, 4096)
        if self.n_ctx > trained:
            raise ModelError(f"--ctx {self.n_ctx} exceeds the model's trained context of {trained}")
        self.n_threads = opts.n_threads or default_threads()
        self.deterministic = opts.deterministic
        if opts.deterministic:
            self.parallel = 1
        elif opts.parallel:
            self.parallel = max(1, opts.parallel)
        else:
            self.parallel = choose_parallel(gpu=self.n_gpu_layers > 0 and gpu_offload_supported(), n_ctx=self.n_ctx,
                                            kv_per_token=kv_bytes_per_token(self.info.metadata),
                                            memory=physical_memory())
        blocker = self._prefix_blocker()
        n_seq = self.parallel + (blocker is None)  # the prefix gets its own sequence
        self._ctx = self._new_context(n_seq)
        self._mem = L.llama_get_memory(self._ctx)
        self._batch = TokenBatch(L, self._batch_capacity())
        self._prefix = PrefixCache(L, self._mem, self.parallel, MIN_PREFIX) if blocker is None else None
        self._new_prefix: tuple[int, list[int]] | None = None
        self._last_prompt: tuple[Job | None, list[int]] = (None, [])
        self.stats.prefix_reuse = "on" if blocker is None else f"off: {blocker}"
        self.eog = self._eog_tokens()
        self.vocab = Vocabulary(self._vocab_ptr, self.eog)
        self._eog_set = set(self.eog)
        self.template: ChatTemplate = resolve_template(self.info.architecture, self.info.chat_template,
                                                       opts.chat_template)
        bos_id, eos_id = L.llama_vocab_bos(self._vocab_ptr), L.llama_vocab_eos(self._vocab_ptr)
        self.bos_text = self._piece(bos_id) if bos_id >= 0 else ""
        self.add_bos = bool(L.llama_vocab_get_add_bos(self._vocab_ptr)) and bos_id >= 0
        self._bos_id = bos_id
        self.formatter = PromptFormatter(self.template, self.bos_text, self._piece(eos_id) if eos_id >= 0 else "")
        self._schemas: dict[str, CompiledSchema] = {}
        self._masks = MaskSet(self.parallel, self.n_vocab, threads=min(self.n_threads, self.parallel))
        self._sampler = BatchSampler(self.parallel)
        self._logits: tuple[int, np.ndarray] | None = None  # (address, view) of llama.cpp's logits buffer
        self._get_logits = L.llama_cpp._lib["llama_get_logits"]  # its own function object: the address as an int
        self._get_logits.argtypes, self._get_logits.restype = [ctypes.c_void_p], ctypes.c_void_p
        # Masks depend only on the matchers, so they can be computed while llama_decode runs - when a core
        # is free for it: with a GPU, or fewer CPU threads than cores (ggml's spinning threads must not wait).
        self._overlap = (self.n_gpu_layers > 0 and gpu_offload_supported()) or self.n_threads < default_threads()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qaug-mask") if self._overlap else None
        from qaug.llm.models import model_id

        self.model_id = model_id(path)

    @property
    def decode_seconds(self) -> float:
        """Seconds spent inside llama_decode (prompts and steps): the decode-only share of a run."""
        return self._batch.seconds if getattr(self, "_batch", None) is not None else 0.0

    # -- setup helpers -------------------------------------------------------------------
    def _gpu_layers(self, requested: int | str) -> int:
        if requested == "auto":
            return 999 if gpu_offload_supported() else 0
        try:
            return int(requested)
        except ValueError:
            raise ModelError(f"--n-gpu-layers must be 'auto' or a number, not {requested!r}") from None

    def _prefix_blocker(self) -> str | None:
        """Why this engine cannot share a prompt prefix between sequences, or None."""
        L = self._L
        if self.deterministic:
            return "deterministic mode"
        if not self.options.prefix_reuse:
            return "disabled"
        if L.llama_model_is_recurrent(self._model) or L.llama_model_is_hybrid(self._model):
            return "recurrent memory cannot copy part of a sequence"
        return None

    def _new_context(self, n_seq: int) -> Any:
        L = self._L
        cp = L.llama_context_default_params()
        cp.n_ctx = self.n_ctx * n_seq  # unified cells: every slot and the prefix may fill n_ctx
        cp.n_batch = self._batch_capacity()
        cp.n_ubatch = cp.n_batch
        cp.n_seq_max = n_seq
        cp.kv_unified = True
        cp.n_threads = cp.n_threads_batch = self.n_threads
        ctx = L.llama_init_from_model(self._model, cp)
        if not ctx:
            raise ModelError(f"could not create a context of {cp.n_ctx} tokens for {self.model_path.name} "
                             f"(out of memory?); lower --ctx or --parallel")
        return ctx

    def _eog_tokens(self) -> list[int]:
        L = self._L
        eog = [t for t in (L.llama_vocab_eos(self._vocab_ptr), L.llama_vocab_eot(self._vocab_ptr)) if t >= 0]
        for t in range(self.n_vocab):
            if t not in eog and L.llama_vocab_is_eog(self._vocab_ptr, t):
                eog.append(t)
        return eog

    def _piece(self, token: int) -> str:
        buf = ctypes.create_string_buffer(256)
        n = self._L.llama_token_to_piece(self._vocab_ptr, token, buf, len(buf), 0, True)
        return buf.raw[:max(n, 0)].decode("utf-8", "replace")

    def close(self) -> None:
        L = self._L
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()
            self._pool = None
        if getattr(self, "_ctx", None):
            L.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_model", None):
            L.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    # -- prompts ---------------------------------------------------------------------------
    def tokenize(self, text: str, special: bool) -> list[int]:
        """llama.cpp tokens; `special` parses control-token text (only ever for template text)."""
        L = self._L
        raw = text.encode("utf-8")
        buf = (L.llama_token * (len(raw) + 16))()
        n = L.llama_tokenize(self._vocab_ptr, raw, len(raw), buf, len(buf), False, special)
        if n < 0:
            buf = (L.llama_token * -n)()
            n = L.llama_tokenize(self._vocab_ptr, raw, len(raw), buf, len(buf), False, special)
        return list(buf[:n])

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """Render with the chat template, tokenizing template text with specials and user text without.

        A record containing "<|im_start|>" must stay text: data can never inject control tokens.
        """
        marks = [f"\x00qaug{i}\x00" for i in range(len(messages))]
        rendered = self.formatter.render([{"role": m["role"], "content": marks[i]} for i, m in enumerate(messages)])
        tokens: list[int] = []
        rest = rendered
        for i, mark in enumerate(marks):
            head, sep, rest = rest.partition(mark)
            if not sep:
                raise ModelError(f"chat template from {self.template.source} drops message {i}")
            if head:
                tokens += self.tokenize(head, special=True)
            tokens += self.tokenize(messages[i]["content"], special=False)
        if rest:
            tokens += self.tokenize(rest, special=True)
        if self.add_bos and (not tokens or tokens[0] != self._bos_id):
            tokens.insert(0, self._bos_id)
        return tokens

    def render_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        return self.formatter.render(list(messages))

    def compiled(self, schema: dict[str, Any]) -> CompiledSchema:
        key = jsonio.dumps_str(schema)
        comp = self._schemas.get(key)
        if comp is None:
            comp = self._schemas[key] = CompiledSchema(schema, self.vocab)
        return comp

    # -- scoring ------------------------------------------------------------------------------
    def surprisal(self, requests: Sequence[ScoreRequest]) -> list[Surprisal | None]:
        """Teacher-forced surprisal of each target, one request at a time in sequence 0.

        A request whose prompt and target exceed the context (--ctx) gets None.
        Consecutive requests share their prompt's beginning (system text, instructions), so only the
        tokens after the common prefix with the previous request are evaluated. The sequence is
        emptied afterwards, so generation finds its slots as it left them.
        """
        L, seq = self._L, 0
        out: list[Surprisal | None] = []
        held: list[int] = []  # tokens whose KV sequence 0 holds
        t0 = time.perf_counter()
        try:
            for req in requests:
                prompt = self.prompt_tokens(req.messages)
                target = self.tokenize(req.target, special=False)
                if not target:
                    out.append(Surprisal((), ()))
                    continue
                tokens = prompt + target
                if len(tokens) > self.n_ctx:  # this one cannot be scored; the others still are
                    out.append(None)
                    continue
                if self.deterministic:
                    L.llama_memory_clear(self._mem, False)
                    held = []
                keep = min(common_prefix(np.asarray(held, dtype=np.int32), prompt), len(prompt) - 1)
                L.llama_memory_seq_rm(self._mem, seq, keep, -1)
                if len(prompt) - 1 > keep:  # the prompt up to its last token: no logits needed
                    self._batch.decode(self._ctx, [(tokens[keep:len(prompt) - 1], keep, seq)])
                nats = self._forced(tokens, len(prompt) - 1, seq)
                held = tokens[:-1]
                self.stats.prompt_tokens_evaluated += len(tokens) - 1 - keep
                self.stats.prompt_tokens_reused += keep
                out.append(self._pieces(target, nats))
        finally:
            L.llama_memory_seq_rm(self._mem, seq, -1, -1)
            self.stats.score_seconds += time.perf_counter() - t0
        return out

    def _pieces(self, target: list[int], nats: list[float]) -> Surprisal:
        """Text pieces of the target: a token that ends inside a UTF-8 character (Qwen splits rare Han
        characters into bytes) is joined with the next, its surprisal added, so every piece is real text."""
        pieces: list[str] = []
        sums: list[float] = []
        pending, acc = b"", 0.0
        for tok, x in zip(target, nats):
            pending += self.vocab.detokenize([tok])
            acc += x
            try:
                text = pending.decode("utf-8")
            except UnicodeDecodeError:
                continue
            pieces.append(text)
            sums.append(acc)
            pending, acc = b"", 0.0
        if pending:
            pieces.append(pending.decode("utf-8", "replace"))
            sums.append(acc)
        return Surprisal(tuple(pieces), tuple(sums))

    def _forced(self, tokens: list[int], start: int, seq: int) -> list[float]:
        """Decode tokens[start:-1] with logits and return -log p(tokens[i+1]) for each, in nats."""
        nats: list[float] = []
        cap = self._batch.capacity
        for lo in range(start, len(tokens) - 1, cap):
            hi = min(lo + cap, len(tokens) - 1)
            chunk = np.asarray(tokens[lo:hi], dtype=np.int32)
            self._batch.run(self._ctx, chunk, np.arange(lo, hi, dtype=np.int32),
                             np.full(hi - lo, seq, dtype=np.int32), n_out=hi - lo)
            rows = self._logits_rows(hi - lo).astype(np.float64)
            top = rows.max(axis=1)
            lse = top + np.log(np.exp(rows - top[:, None]).sum(axis=1))
            nxt = np.asarray(tokens[lo + 1:hi + 1])
            nats.extend((lse - rows[np.arange(hi - lo), nxt]).tolist())
        return nats

    # -- decoding ----------------------------------------------------------------------------
    def _batch_capacity(self) -> int:
        return max(self.options.n_batch, self.parallel)

    def _attempt_many(self, jobs: deque[Job]) -> Iterator[tuple[Job, Raw]]:
        queue = jobs  # live: retries arrive while this runs (see Engine._attempt_many)
        slots = [_Slot(seq=i) for i in range(self.parallel)]
        decode_before = self._batch.seconds
        self._new_prefix = None
        try:
            while queue or any(s.job is not None for s in slots):
                runs: list[tuple[Sequence[int], int, int]] = []  # prompt tokens to evaluate with this step
                for slot in slots:
                    while slot.job is None and queue:
                        job = queue.popleft()
                        failed = self._start(slot, job, runs, queue[0] if queue else None)
                        if failed is not None:
                            yield job, failed
                active = [s for s in slots if s.job is not None]
                if not active:
                    continue
                steps = (np.fromiter((s.last for s in active), np.int32, len(active)),
                         np.fromiter((s.pos for s in active), np.int32, len(active)),
                         np.fromiter((s.seq for s in active), np.int32, len(active)))
                matchers = cast("list[Matcher]", [s.matcher for s in active])  # an active slot has one
                # One mask (~50 us) is cheaper inline than a hand-off to the mask thread (~70 us, measured)
                overlap = self._pool is not None and len(matchers) > 1
                pending = self._pool.submit(self._masks.fill, matchers) if overlap else None  # type: ignore[union-attr]
                try:
                    self._batch.decode(self._ctx, runs, steps)
                finally:
                    masks = pending.result() if pending is not None else self._masks.fill(matchers)
                if self._new_prefix is not None and self._prefix is not None:
                    self._prefix.set_from(*self._new_prefix)  # a new kind of prompt, now decoded: next jobs copy it
                self._new_prefix = None
                for slot, token in zip(active, self._sample(active, masks)):
                    done = self._advance(slot, token)
                    if done is not None:
                        yield self._finish(slot, *done)
        finally:
            self._new_prefix = None
            self.stats.decode_seconds += self._batch.seconds - decode_before
            for slot in slots:  # a generator closed early must not leave sequences in the cache
                if slot.job is not None:
                    self._release(slot)

    def _start(self, slot: _Slot, job: Job, runs: list[tuple[Sequence[int], int, int]],
               next_job: Job | None) -> Raw | None:
        """Put a job in a slot and queue its prompt tokens in `runs`; a Raw error if it cannot start.

        The prompt's last token is not queued: it is the slot's first step token, decoded with logits.
        """
        try:
            tokens = self._prompt_of(job)
            matcher = self.compiled(job.schema).start()
        except (ModelError, ConstraintError) as exc:
            return Raw(text="", finish="error", error=str(exc))
        limit = self.n_ctx
        if len(tokens) + job.sampling.max_tokens > limit:
            return Raw(text="", finish="error", prompt_tokens=0,
                       error=f"prompt is {len(tokens)} tokens; with max_tokens {job.sampling.max_tokens} it exceeds "
                             f"the context of {limit} (--ctx)")
        L, seq = self._L, slot.seq
        if self.deterministic:
            L.llama_memory_clear(self._mem, False)  # same cells, same batches: the same numbers every run
        else:
            L.llama_memory_seq_rm(self._mem, seq, -1, -1)
        reused = self._reuse(seq, tokens)
        if len(tokens) > reused + 1:
            runs.append((tokens[reused:-1], reused, seq))
        if self._prefix is not None and not reused and len(tokens) > MIN_PREFIX:
            # A new kind of prompt. If the next job shares it, evaluate it now so that job can copy it;
            # else it becomes the prefix once this step is decoded (a cheap copy of cell ownership).
            if self._shares_prefix(tokens, next_job):
                self._batch.decode(self._ctx, runs)
                runs.clear()
                self._prefix.set_from(seq, tokens[:-1])
                self._new_prefix = None
            else:
                self._new_prefix = (seq, tokens[:-1])
        self.stats.prompt_tokens_evaluated += len(tokens) - reused
        self.stats.prompt_tokens_reused += reused
        slot.job, slot.matcher, slot.out = job, matcher, []
        slot.rng = np.random.default_rng(job.seed)
        slot.pos = len(tokens) - 1
        slot.last = tokens[-1]
        slot.prompt_tokens = len(tokens)
        return None

    def _prompt_of(self, job: Job) -> list[int]:
        """The job's prompt tokens; the last job looked at is remembered (the queue is peeked at once)."""
        if self._last_prompt[0] is not job:
            self._last_prompt = (job, self.prompt_tokens(job.messages))
        return self._last_prompt[1]

    def _shares_prefix(self, tokens: list[int], other: Job | None) -> bool:
        if other is None:
            return False
        try:
            theirs = self._prompt_of(other)
        except ModelError:
            return False
        return common_prefix(np.asarray(tokens[:-1], dtype=np.int32), theirs[:-1]) >= MIN_PREFIX

    def _reuse(self, seq: int, tokens: list[int]) -> int:
        """Copy the cached shared prefix of `tokens` into `seq`; the number of tokens copied."""
        if self._prefix is None:
            return 0
        fallbacks = self._prefix.swa_fallbacks
        try:
            n = self._prefix.copy_to(seq, tokens)
        except RuntimeError as exc:  # the memory did not copy as asked: stop reusing, stay correct
            self._prefix = None
            self.stats.prefix_reuse = f"off: {exc}"
            return 0
        if self._prefix.swa_fallbacks != fallbacks:  # counted in stats only when it happens
            self.stats.prefix_swa_fallbacks += 1
        return n

    def _release(self, slot: _Slot) -> None:
        self._L.llama_memory_seq_rm(self._mem, slot.seq, -1, -1)
        slot.job = slot.matcher = None

    def _finish(self, slot: _Slot, finish: str, error: str | None = None) -> tuple[Job, Raw]:
        job = slot.job
        assert job is not None
        data = self.vocab.detokenize(slot.out)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = data.decode("utf-8", "backslashreplace")
            if finish != "length":  # a cut can split a character; that is still just a cut-off answer
                finish, error = "invalid", f"answer is not UTF-8: {exc}"
        raw = Raw(text=text, finish=finish, prompt_tokens=slot.prompt_tokens, completion_tokens=len(slot.out),
                  error=error)
        self._release(slot)
        return job, raw

    def _sample(self, active: list[_Slot], masks: np.ndarray) -> list[int | Exception]:
        """One token per active slot from this step's logits rows and mask rows, all rows sampled together."""
        logits = self._logits_rows(len(active))
        broken: dict[int, Exception] = {}
        for i, s in enumerate(active):
            try:
                s.matcher.check()  # type: ignore[union-attr]
            except ConstraintError as exc:
                broken[i] = exc
        rngs = cast("list[np.random.Generator]", [s.rng for s in active])  # an active slot has one
        tokens = self._sampler.sample(logits, masks, [s.job.sampling for s in active],  # type: ignore[union-attr]
                                      rngs, [s.out for s in active])  # penalty: last 64
        return [broken.get(i, t) for i, t in enumerate(tokens)]

    def _logits_rows(self, n: int) -> np.ndarray:
        """The first n rows of llama.cpp's logits buffer as a numpy view, re-made only when the buffer moves."""
        address = self._get_logits(self._ctx)
        if self._logits is None or self._logits[0] != address or self._logits[1].shape[0] < n:
            buf = (ctypes.c_float * (n * self.n_vocab)).from_address(address)
            self._logits = (address, np.ctypeslib.as_array(buf).reshape(n, self.n_vocab))
        return self._logits[1][:n]

    def _advance(self, slot: _Slot, token: int | Exception) -> tuple[str, str | None] | None:
        """Feed a sampled token to the slot's matcher; (finish, error) when its job is done."""
        job, matcher = slot.job, slot.matcher
        assert job is not None and matcher is not None
        try:
            if isinstance(token, Exception):
                raise token
            matcher.consume(token)
        except (ConstraintError, ValueError) as exc:
            return "invalid", f"grammar error: {exc}"
        slot.pos += 1
        if token in self._eog_set:
            return "stop", None
        slot.out.append(token)
        slot.last = token
        if matcher.is_stopped():
            return "stop", None
        if len(slot.out) >= job.sampling.max_tokens:
            return "length", None
        return None
