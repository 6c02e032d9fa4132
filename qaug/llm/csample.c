/* The per-step token sampler of the llama.cpp engine, compiled: one call samples every row of a decode
 * step. Loaded with ctypes (qaug/llm/csample.py), so it uses no Python API and needs no Python headers.
 *
 * Same order and arithmetic as the numpy path in sampling.py, which stays the reference and the fallback
 * (the one difference: exp() here is the C library's, which can differ from numpy's in the last bit):
 * repeat penalty on the recent tokens (applied in place, undone before returning), the k best tokens the
 * grammar allows, then top-p and min-p over the softmax at temperature 1, then a draw at the temperature
 * with the caller's uniform number. Why compiled: over a 152k-262k vocabulary, numpy needs ~30 calls a
 * row, and after a llama_decode that streamed the model's weights through the caches those calls cost
 * 150-250 us; this loop reads each logit once, 32 at a time, and costs a few tens of microseconds.
 * NaN logits are never candidates.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define QAUG_CSAMPLE_ABI 1 /* bump when qaug_sample_rows' arguments change: csample.py refuses a stale build */
#define QAUG_MAX_K 256 /* rows with a larger top-k (or none) go to the numpy path */
#define CHUNK 32 /* logits compared at once against the k-th best so far */

#if defined(__GNUC__) || defined(__clang__)
/* GCC/Clang vector extensions: SSE/NEON compares on any target, no intrinsics or -march needed */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* Does any of the CHUNK floats at x exceed thr? */
static int any_above(const float *x, float thr) {
    v4f t = {thr, thr, thr, thr};
    v4i acc = {0, 0, 0, 0};
    for (int j = 0; j < CHUNK; j += 4) {
        v4f a;
        memcpy(&a, x + j, sizeof a);
        acc |= (v4i)(a > t);
    }
    return (acc[0] | acc[1] | acc[2] | acc[3]) != 0;
}
#else
static int any_above(const float *x, float thr) {
    int any = 0;
    for (int j = 0; j < CHUNK; j++) any |= x[j] > thr;
    return any;
}
#endif

typedef struct {
    float v;
    int32_t id;
} cand_t;

/* Insert (v, id) into buf, sorted best first; ids arrive in ascending order, so equal values keep the
 * lower id first. When buf is full the caller has checked that v beats the last entry, which is dropped. */
static void push(cand_t *buf, int *n, int k, float v, int32_t id) {
    int i = *n < k ? (*n)++ : k - 1;
    while (i > 0 && buf[i - 1].v < v) {
        buf[i] = buf[i - 1];
        i--;
    }
    buf[i].v = v;
    buf[i].id = id;
}

static int allowed(const uint32_t *mask, int64_t t) { return !mask || ((mask[t >> 5] >> (t & 31)) & 1u); }

/* The k best allowed logits of one row into buf (best first); returns how many there are. */
static int top_allowed(const float *x, int64_t n_vocab, const uint32_t *mask, int64_t words, int k, cand_t *buf) {
    int n = 0;
    if (mask) {
        int64_t nz = 0;
        for (int64_t w = 0; w < words; w++) nz += mask[w] != 0;
        if (nz * 16 < words) { /* few allowed tokens (JSON punctuation): read them from the mask */
            for (int64_t w = 0; w < words; w++) {
                uint32_t bits = mask[w];
                while (bits) {
                    int64_t t = w * 32 + __builtin_ctz(bits);
                    bits &= bits - 1;
                    if (t < n_vocab && x[t] == x[t] && (n < k || x[t] > buf[k - 1].v))
                        push(buf, &n, k, x[t], (int32_t)t);
                }
            }
            return n;
        }
    }
    int64_t full = n_vocab - n_vocab % CHUNK;
    for (int64_t c = 0; c < n_vocab; c += CHUNK) {
        int64_t end = c < full ? c + CHUNK : n_vocab;
        if (n == k && c < full && !any_above(x + c, buf[k - 1].v)) continue; /* nothing beats the k-th best */
        for (int64_t t = c; t < end; t++) {
            if (x[t] == x[t] && (n < k || x[t] > buf[k - 1].v) && allowed(mask, t)) push(buf, &n, k, x[t], (int32_t)t);
        }
    }
    return n;
}

/* numpy's pairwise sum (DOUBLE_pairwise_sum, blocks of 128): the same rounding as probs.sum(). */
static double np_sum(const double *a, int n) {
    if (n > 128) {
        int n2 = n / 2;
        n2 -= n2 % 8;
        return np_sum(a, n2) + np_sum(a + n2, n - n2);
    }
    if (n < 8) {
        double r = 0.0;
        for (int i = 0; i < n; i++) r += a[i];
        return r;
    }
    double r[8];
    int i;
    for (int j = 0; j < 8; j++) r[j] = a[j];
    for (i = 8; i < n - (n % 8); i += 8)
        for (int j = 0; j < 8; j++) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[i];
    return res;
}

/* Top-p, min-p, temperature and the draw over n candidates sorted best first. */
static int32_t draw(const cand_t *c, int n, double top_p, double min_p, double temp, double u) {
    if (temp <= 0.0 || n == 1) return c[0].id;
    double probs[QAUG_MAX_K], d[QAUG_MAX_K];
    double v0 = c[0].v;
    for (int i = 0; i < n; i++) {
        d[i] = (double)c[i].v - v0;
        probs[i] = exp(d[i]);
    }
    double sum = np_sum(probs, n);
    for (int i = 0; i < n; i++) probs[i] /= sum;
    int keep = n;
    if (top_p > 0.0 && top_p < 1.0) {
        double cum = 0.0;
        int below = 0;
        for (int i = 0; i < n; i++) {
            cum += probs[i];
            below += cum < top_p;
        }
        if (below + 1 < keep) keep = below + 1;
    }
    if (min_p > 0.0) {
        int kept = 0;
        for (int i = 0; i < n; i++) kept += probs[i] >= min_p * probs[0];
        if (kept < 1) kept = 1;
        if (kept < keep) keep = kept;
    }
    if (keep == 1) return c[0].id;
    double cum[QAUG_MAX_K], acc = 0.0;
    for (int i = 0; i < keep; i++) {
        acc += exp(d[i] / temp);
        cum[i] = acc;
    }
    double target = u * cum[keep - 1];
    int pick = 0;
    for (int i = 0; i < keep; i++) pick += cum[i] <= target;
    if (pick > keep - 1) pick = keep - 1;
    return c[pick].id;
}

int qaug_csample_abi(void) { return QAUG_CSAMPLE_ABI; }

/* Sample one token for each of n_rows rows of logits (n_rows x n_vocab, float32, left as found).
 * masks: n_rows x words 32-bit little-endian grammar bitmasks, or NULL. recent: n_rows x recent_cap
 * tokens, n_recent[i] of them used in row i. params: n_rows x 6 doubles per row: temperature, top_p,
 * min_p, repeat_penalty, top_k (<= 0: the whole vocabulary) and the uniform number of the draw.
 * out[i]: the token, -1 when the grammar allows no token, -2 when the row needs the general path
 * (top-k over QAUG_MAX_K). Returns 0. */
int qaug_sample_rows(float *logits, int64_t n_rows, int64_t n_vocab, const uint32_t *masks, int64_t words,
                     const int32_t *recent, const int32_t *n_recent, int64_t recent_cap, const double *params,
                     int32_t *out) {
    cand_t buf[QAUG_MAX_K];
    for (int64_t r = 0; r < n_rows; r++) {
        float *x = logits + r * n_vocab;
        const uint32_t *mask = masks ? masks + r * words : 0;
        const double *pr = params + r * 6;
        double temp = pr[0], top_p = pr[1], min_p = pr[2], u = pr[5];
        int64_t top_k = pr[4] >= (double)n_vocab ? n_vocab : (int64_t)pr[4];
        int64_t k = temp <= 0.0 ? 1 : (top_k > 0 && top_k < n_vocab ? top_k : n_vocab);
        if (k > QAUG_MAX_K) {
            out[r] = -2;
            continue;
        }
        /* the repeat penalty, once per distinct recent token, applied in float32 like numpy */
        const int32_t *rec = recent + r * recent_cap;
        int nr = n_recent[r] < recent_cap ? n_recent[r] : (int)recent_cap;
        float saved[QAUG_MAX_K];
        int32_t done[QAUG_MAX_K];
        int nd = 0;
        float pen = (float)pr[3];
        if (pen != 1.0f) {
            for (int i = 0; i < nr && nd < QAUG_MAX_K; i++) {
                int32_t t = rec[i];
                int seen = t < 0 || t >= n_vocab;
                for (int j = 0; j < nd && !seen; j++) seen = done[j] == t;
                if (seen) continue;
                done[nd] = t;
                saved[nd++] = x[t];
                x[t] = x[t] > 0 ? x[t] / pen : x[t] * pen;
            }
        }
        int n = top_allowed(x, n_vocab, mask, words, (int)k, buf);
        for (int j = nd - 1; j >= 0; j--) x[done[j]] = saved[j];
        out[r] = n ? draw(buf, n, top_p, min_p, temp, u) : -1;
    }
    return 0;
}
