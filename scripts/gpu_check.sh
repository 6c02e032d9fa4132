#!/usr/bin/env bash
# GPU check for a lent machine with no internet and no package registry (budget: 8 minutes).
#
# Prepare here:   bash scripts/pack_for_gpu.sh          (fills dist/gpu: trimmed sdist, Qwen2 vocab, wheels)
# Run there:      bash scripts/gpu_check.sh             (device tool: carry=["dist/gpu"], timeout ~560 s)
#
# 1. builds llama-cpp-python from the carried sdist with CUDA for this card's architecture
#    (CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=<compute_cap>"), pip --no-build-isolation,
#    into a target folder (the image's python3 has scikit-build-core, cmake and ninja); skipped when a
#    warm machine already has that build;
# 2. installs the carried wheels (llguidance, orjson, gguf, diskcache) into the same folder, and builds
#    qaug's compiled token sampler in place (setup.py build_ext --inplace; numpy sampling if that fails);
# 3. writes a random-weight GGUF with Qwen2.5-7B's shapes and tokenizer and quantises it to Q4_K_M
#    through llama-cpp-python's llama_model_quantize binding (scripts/make_7b_shape_gguf.py);
# 4. checks output validity on the GPU: layers offloaded, every job answered once, every ok answer
#    strict JSON that validates, deterministic reruns identical;
# 5. runs scripts/bench.py on the model (fewer rows when the budget is running out).
# Logs and the bench table go to $OUT (the device tool brings that folder back), else /tmp/qaug-gpu-out.
#
# Knobs: PYTHON (default python3), PACK (default dist/gpu), BUDGET_S (default 480), BENCH_ARGS (bench.py
# options instead of the budget-based choice), QAUG_CUDA_FA=ON to
# compile the flash-attention kernels too (slower build), DRY_RUN=1 to exercise the script on a CPU box
# with an installed llama-cpp-python (no build, a 2-layer small model, CPU threads).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}
PACK=${PACK:-dist/gpu}
BUDGET_S=${BUDGET_S:-480}
OUTDIR=${OUT:-/tmp/qaug-gpu-out}
WORK=${WORK:-/tmp/qaug-gpu}
SITE="$WORK/site"
mkdir -p "$OUTDIR" "$WORK"
LOG="$OUTDIR/gpu_check.log"
: >"$LOG"
START=$SECONDS
say() { echo "[gpu_check +$((SECONDS - START))s] $*" | tee -a "$LOG" >&2; }
left() { echo $((BUDGET_S - (SECONDS - START))); }

if [ "${DRY_RUN:-0}" = 1 ]; then
  say "DRY RUN: no CUDA build; using $PY's llama-cpp-python"
  SITE="$WORK/site-dry"
  mkdir -p "$SITE"
  NPROC=$(nproc)
  SHAPE=(--layers 2 --hidden 512 --heads 4 --kv-heads 2 --ff 1024)
  BENCH_THREADS=1
else
  command -v nvidia-smi >/dev/null || { say "no nvidia-smi: not a GPU machine"; exit 2; }
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv | tee -a "$LOG"
  CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
  [ -n "$CC" ] || { say "could not read the compute capability"; exit 2; }
  NPROC=$(nproc)
  if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
  command -v nvcc >/dev/null || { say "no nvcc: cannot build the CUDA backend"; exit 2; }
  SHAPE=()
  BENCH_THREADS=4  # CPU threads only feed the GPU; the sampling loop is single-threaded Python
  SDIST=$(ls "$PACK"/llama_cpp_python-*.tar.gz 2>/dev/null | head -1 || true)
  [ -n "$SDIST" ] || { say "no sdist in $PACK: run scripts/pack_for_gpu.sh and carry $PACK"; exit 2; }
  have_build() {
    PYTHONPATH="$SITE" "$PY" -c 'import llama_cpp, sys; sys.exit(0 if llama_cpp.llama_supports_gpu_offload() else 1)' \
      >/dev/null 2>&1
  }
  if have_build; then
    say "llama-cpp-python with CUDA already built in $SITE (warm machine): build skipped"
  else
    FA=${QAUG_CUDA_FA:-OFF}
    say "building $(basename "$SDIST") for sm_$CC with $NPROC jobs (flash-attention kernels: $FA)"
    export CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=$CC -DGGML_CUDA_FA=$FA -DGGML_CUDA_NCCL=OFF \
-DLLAVA_BUILD=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
-DLLAMA_BUILD_SERVER=OFF"
    export CMAKE_BUILD_PARALLEL_LEVEL=$NPROC
    "$PY" -m pip install --no-build-isolation --no-deps --no-index --upgrade --target "$SITE" \
      --config-settings=build-dir="$WORK/build" "$SDIST" >>"$LOG" 2>&1 \
      || { say "build failed; the end of $LOG:"; tail -40 "$LOG" >&2; exit 1; }
    have_build || { say "built, but llama_supports_gpu_offload() is false"; exit 1; }
    say "build done"
  fi
  "$PY" -m pip install --no-deps --no-index --upgrade --target "$SITE" "$PACK"/wheels/*.whl >>"$LOG" 2>&1
fi
export PYTHONPATH="$SITE:$ROOT"
# the compiled token sampler (qaug/llm/csample.c), built in place since qaug is not pip-installed here
# (straight with cc when the image's setuptools is too old to read pyproject.toml)
EXT=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
if "$PY" setup.py -q build_ext --inplace >>"$LOG" 2>&1 \
   || cc -O3 -std=c99 -shared -fPIC qaug/llm/csample.c -o "qaug/llm/_csample$EXT" >>"$LOG" 2>&1; then
  say "compiled sampler built"
else
  say "could not build the compiled sampler (see $LOG): sampling runs in numpy"
fi
"$PY" -c 'import llama_cpp, llguidance, gguf, orjson; print("llama-cpp-python", llama_cpp.__version__,
"| gpu offload:", bool(llama_cpp.llama_supports_gpu_offload()), "|", llama_cpp.llama_print_system_info().decode())' \
  | tee -a "$LOG"

VOCAB="$PACK/ggml-vocab-qwen2.gguf"
[ -f "$VOCAB" ] || VOCAB="$HOME/.cache/qaug/ggml-vocab-qwen2.gguf"
MODEL="$WORK/qwen2.5-7b-shape-q4_k_m.gguf"
if [ -f "$MODEL" ] && [ "${DRY_RUN:-0}" != 1 ]; then
  say "model already written: $MODEL"
else
  say "writing the 7B-shape model and quantising it to Q4_K_M"
  "$PY" scripts/make_7b_shape_gguf.py "$MODEL" --vocab "$VOCAB" --quantize Q4_K_M --threads "$NPROC" \
    ${SHAPE[@]+"${SHAPE[@]}"} 2>&1 | grep -v "^\[ *[0-9]*/ *[0-9]*\]\|^llama_model_loader" | tee -a "$LOG"
fi

say "validity check"
check_ok=1
"$PY" - "$MODEL" "$BENCH_THREADS" <<'EOF' 2>&1 | tee -a "$LOG" || check_ok=0
import json, sys, time
from pathlib import Path
from qaug.llm.engine import Job, Sampling
from qaug.llm.llamacpp import EngineOptions, LlamaCppEngine
from qaug.llm.schema import validate

path, threads = Path(sys.argv[1]), int(sys.argv[2])
schemas = [
    {"type": "object", "properties": {"variants": {"type": "array", "minItems": 3, "maxItems": 3,
     "items": {"type": "string", "maxLength": 24}}}, "required": ["variants"], "additionalProperties": False},
    {"type": "object", "properties": {"label": {"enum": ["positive", "negative", "neutral"]},
     "same_meaning": {"type": "boolean"}}, "required": ["label", "same_meaning"], "additionalProperties": False},
    {"type": "object", "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5},
     "reason": {"type": "string", "maxLength": 20}}, "required": ["score", "reason"], "additionalProperties": False},
]
jobs = [Job(key=f"j{i}", messages=({"role": "system", "content": "Answer in JSON."},
                                   {"role": "user", "content": f"Item {i}: 请改写 / rewrite this <|im_start|>"}),
            schema=schemas[i % 3], seed=i, sampling=Sampling(max_tokens=96)) for i in range(48)]
eng = LlamaCppEngine(path, EngineOptions(n_ctx=1024, n_threads=threads))
from qaug.llm.csample import library_path
print(f"engine: parallel {eng.parallel} (default), gpu layers {eng.n_gpu_layers}, prefix reuse {eng.stats.prefix_reuse}, "
      f"sampler {'compiled' if library_path() else 'numpy'}")
t0 = time.perf_counter()
results = list(eng.generate(jobs))
wall = time.perf_counter() - t0
assert sorted(r.job.key for r in results) == sorted(j.key for j in jobs), "a job was lost or answered twice"
ok = [r for r in results if r.ok]
for r in ok:
    assert json.loads(r.text) == r.value and validate(r.value, r.job.schema) is None, r.text
    assert not any(ord(c) < 0x20 for c in r.text)
bad = [r.error for r in results if not r.ok]
assert all(e.startswith(("answer cut off", "answer is not", "grammar error")) for e in bad), bad[:3]
st = eng.stats
print(f"{len(ok)}/{len(results)} valid answers, {st['completion_tokens']} tokens in {wall:.1f}s "
      f"({st['completion_tokens'] / wall:.0f} tokens/s), llama_decode {st['decode_seconds']:.1f}s, "
      f"prompt tokens evaluated {st['prompt_tokens_evaluated']} of {st['prompt_tokens']}")
assert len(ok) >= 12, "too few valid answers"
eng.close()
det = []
for parallel in (8, 1):
    e = LlamaCppEngine(path, EngineOptions(n_ctx=1024, n_threads=threads, parallel=parallel, deterministic=True))
    det.append({r.job.key: r.text for r in e.generate(jobs[:6])})
    e.close()
print("deterministic reruns identical:", det[0] == det[1])
assert det[0] == det[1], "deterministic mode gave different answers"
print("VALIDITY OK")
EOF
[ "$check_ok" = 1 ] || { say "validity check FAILED"; exit 1; }

REMAIN=$(left)
if [ -n "${BENCH_ARGS:-}" ]; then
  read -r -a BENCH <<<"$BENCH_ARGS"
elif [ "$REMAIN" -gt 300 ]; then
  BENCH=(--ns 2,4,8,16 --records 50)
elif [ "$REMAIN" -gt 150 ]; then
  BENCH=(--ns 4,16 --records 20 --runs 2)
else
  BENCH=(--ns 8 --records 0 --runs 2 --skip-llama-cpp-python --skip-numpy-sampler)
fi
say "bench (${REMAIN}s left): scripts/bench.py --gguf $MODEL --threads $BENCH_THREADS ${BENCH[*]}"
"$PY" scripts/bench.py --gguf "$MODEL" --threads "$BENCH_THREADS" --tokens 64 --ctx 1024 "${BENCH[@]}" \
  2>>"$LOG" | tee "$OUTDIR/bench_gpu.md"
say "done in $((SECONDS - START))s"
