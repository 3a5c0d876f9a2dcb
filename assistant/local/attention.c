/* One decoded token's attention over a KV cache, for grouped-query heads (see
   assistant/local/native_attention.py, which compiles this file on the user's machine).

   torch computes it as two batched products and a softmax; for one query row against ~1000 cached
   rows those run at a quarter of the memory bandwidth, and on a 1200-token context attention was a
   third of a token's time. Here the keys are kept in tiles of BLOCK rows stored transposed, so the
   query heads sharing a kv head are scored against a whole tile with vector accumulators held in
   registers, and the values are read once, row by row.

   G (query heads per kv head) and DIM (head size) are fixed when this file is compiled, for the
   model at hand, so that the accumulators' count is known. */
#include <float.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#if !defined(G) || !defined(DIM)
#error "compile with -DG=<query heads per kv head> -DDIM=<head size>"
#endif
#define BLOCK 32 /* key rows per tile; native_attention.BLOCK */
#define W 16     /* floats per vector: the compiler splits them where registers are narrower */
typedef float vec __attribute__((vector_size(W * sizeof(float))));

static inline vec load(const float *p) { vec v; memcpy(&v, p, sizeof v); return v; }
static inline void store(float *p, vec v) { memcpy(p, &v, sizeof v); }
static inline vec splat(float x) { return (vec){0} + x; }

/* acc[t] += c * x[t]: both passes' step, each query head's accumulators kept in registers. */
static inline void add_scaled(vec *restrict acc, const vec *restrict x, int count, float c) {
    vec scaled = splat(c);
#pragma GCC unroll 16
    for (int t = 0; t < count; t++) acc[t] += scaled * x[t];
}

/* count vectors from p into x. */
static inline void load_row(vec *restrict x, const float *restrict p, int count) {
#pragma GCC unroll 16
    for (int t = 0; t < count; t++) x[t] = load(p + t * W);
}

/* e^x for x <= 0 (a softmax after its maximum is subtracted), within ~2 ulp: Cephes' polynomial,
   without calls or branches, so the loop around it is vectorized. */
static inline float exp_nonpositive(float x) {
    x = x < -87.0f ? -87.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

/* Maxima and sums kept per lane, so the compiler vectorizes them without reordering float math. */
static void softmax(float *restrict s, long n) {
    float top[W], acc[W] = {0};
    for (int t = 0; t < W; t++) top[t] = -FLT_MAX;
    long l = 0;
    for (; l + W <= n; l += W)
        for (int t = 0; t < W; t++) top[t] = s[l + t] > top[t] ? s[l + t] : top[t];
    float m = -FLT_MAX;
    for (int t = 0; t < W; t++) m = top[t] > m ? top[t] : m;
    for (; l < n; l++) m = s[l] > m ? s[l] : m;
    for (l = 0; l < n; l++) s[l] = exp_nonpositive(s[l] - m);
    for (l = 0; l + W <= n; l += W)
        for (int t = 0; t < W; t++) acc[t] += s[l + t];
    float sum = 0.f;
    for (int t = 0; t < W; t++) sum += acc[t];
    for (; l < n; l++) sum += s[l];
    float inv = 1.f / sum;
    for (l = 0; l < n; l++) s[l] *= inv;
}

/* q: (kv*G, DIM); tiles: kv heads of (cap/BLOCK, DIM, BLOCK) keys; v: kv heads of (cap, DIM);
   cap is a multiple of BLOCK; the first n cache rows are attended; scores: scratch of G*cap
   floats; out: (kv*G, DIM). */
static void attend(const float *restrict q, const float *restrict tiles, const float *restrict v, float *restrict out,
                   float *restrict scores, int kv, long cap, long n, float scale) {
    for (int h = 0; h < kv; h++) {
        const float *kh = tiles + (long)h * DIM * cap, *vh = v + (long)h * cap * DIM;
        const float *qh = q + (long)h * G * DIM;
        for (long l = 0; l < n; l += BLOCK) {  /* a partial last block reads rows not yet written: unused */
            const float *tile = kh + l * DIM;
            vec acc[G][BLOCK / W] = {{{0}}}, k[BLOCK / W];
            for (int d = 0; d < DIM; d++) {
                load_row(k, tile + d * BLOCK, BLOCK / W);
#pragma GCC unroll 16
                for (int j = 0; j < G; j++) add_scaled(acc[j], k, BLOCK / W, qh[j * DIM + d]);
            }
            long rows = n - l < BLOCK ? n - l : BLOCK;
            for (int j = 0; j < G; j++) {
                float block[BLOCK];
                for (int t = 0; t < BLOCK / W; t++) store(block + t * W, acc[j][t] * splat(scale));
                memcpy(scores + j * cap + l, block, rows * sizeof(float));
            }
        }
        for (int j = 0; j < G; j++) softmax(scores + j * cap, n);
        vec acc[G][DIM / W] = {{{0}}}, row[DIM / W];
        for (long l = 0; l < n; l++) {
            load_row(row, vh + l * DIM, DIM / W);
#pragma GCC unroll 16
            for (int j = 0; j < G; j++) add_scaled(acc[j], row, DIM / W, scores[j * cap + l]);
        }
        for (int j = 0; j < G; j++)
            for (int t = 0; t < DIM / W; t++) store(out + ((long)h * G + j) * DIM + t * W, acc[j][t]);
    }
}

/* A decoded token's attention block after its qkv product, in one call: rotate q and k
   (rotate-half RoPE; `sin` has its first half negated), write k into the cache (rows and tiles)
   and v, then attend over the pos + 1 cached rows. In torch these were ~14 small ops a layer.
   qkv: (kv*G + 2*kv, DIM) q heads, then k heads, then v heads; cos, sin: DIM floats for pos. */
void decode_step(const float *restrict qkv, const float *restrict cos, const float *restrict sin,
                 float *restrict keys, float *restrict tiles, float *restrict v, float *restrict out,
                 float *restrict scores, int kv, long cap, long pos, float scale) {
    enum { HALF = DIM / 2 };
    float q[kv * G * DIM];
    for (int h = 0; h < kv * G + kv; h++) {
        const float *x = qkv + (long)h * DIM;
        float rotated[DIM];
        for (int d = 0; d < HALF; d++) rotated[d] = x[d] * cos[d] + x[d + HALF] * sin[d];
        for (int d = HALF; d < DIM; d++) rotated[d] = x[d] * cos[d] + x[d - HALF] * sin[d];
        if (h < kv * G) {
            memcpy(q + (long)h * DIM, rotated, sizeof rotated);
        } else {
            int k = h - kv * G;
            memcpy(keys + ((long)k * cap + pos) * DIM, rotated, sizeof rotated);
            float *tile = tiles + (long)k * DIM * cap + (pos / BLOCK) * DIM * BLOCK + pos % BLOCK;
            for (int d = 0; d < DIM; d++) tile[(long)d * BLOCK] = rotated[d];
        }
    }
    for (int k = 0; k < kv; k++)
        memcpy(v + ((long)k * cap + pos) * DIM, qkv + ((long)(kv * G + kv + k)) * DIM, DIM * sizeof(float));
    attend(q, tiles, v, out, scores, kv, cap, pos + 1, scale);
}

/* out = x / rms(x) * weight for each of `rows` rows of n floats (torch's F.rms_norm is ~6 ops). */
void rms_norm(const float *restrict x, const float *restrict weight, float *restrict out, long rows, long n,
              float eps) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float acc[W] = {0}, sum = 0.f;
        long i = 0;
        for (; i + W <= n; i += W)
            for (int t = 0; t < W; t++) acc[t] += xr[i + t] * xr[i + t];
        for (int t = 0; t < W; t++) sum += acc[t];
        for (; i < n; i++) sum += xr[i] * xr[i];
        float inv = 1.0f / sqrtf(sum / (float)n + eps);
        for (i = 0; i < n; i++) out[r * n + i] = xr[i] * inv * weight[i];
    }
}
