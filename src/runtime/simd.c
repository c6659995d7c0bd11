/*
 * simd.c — row preparation with SIMD where the CPU has it, chosen at run
 * time: each function exists as a portable version and, on x86-64, as
 * AVX2 and AVX-512 versions built with __attribute__((target)), so the
 * binary runs anywhere and uses what the machine offers without
 * -march=native. The choice is made once (__builtin_cpu_supports).
 *
 * Preparing a row for the perfect layout (see model.h): each feature twice
 * as float32, NaN as -inf in the first copy and +inf in the second.
 */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/model.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static void prep_f32_portable(const float *src, size_t F, float *xf)
{
    for (size_t f = 0; f < F; f++) {
        float v = src[f];
        int nan = v != v;
        xf[f] = nan ? -INFINITY : v;
        xf[F + f] = nan ? INFINITY : v;
    }
}

static void prep_f64_portable(const double *src, size_t F, float *xf)
{
    for (size_t f = 0; f < F; f++) {
        float v = (float)src[f];
        int nan = v != v;
        xf[f] = nan ? -INFINITY : v;
        xf[F + f] = nan ? INFINITY : v;
    }
}

#if defined(__x86_64__)

__attribute__((target("avx2"))) static void prep_f32_avx2(const float *src, size_t F, float *xf)
{
    const __m256 ninf = _mm256_set1_ps(-INFINITY), pinf = _mm256_set1_ps(INFINITY);
    size_t f = 0;
    for (; f + 8 <= F; f += 8) {
        __m256 v = _mm256_loadu_ps(src + f);
        __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        _mm256_storeu_ps(xf + f, _mm256_blendv_ps(v, ninf, nan));
        _mm256_storeu_ps(xf + F + f, _mm256_blendv_ps(v, pinf, nan));
    }
    for (; f < F; f++) {
        float v = src[f];
        int isnan_ = v != v;
        xf[f] = isnan_ ? -INFINITY : v;
        xf[F + f] = isnan_ ? INFINITY : v;
    }
}

__attribute__((target("avx2"))) static void prep_f64_avx2(const double *src, size_t F, float *xf)
{
    const __m128 ninf = _mm_set1_ps(-INFINITY), pinf = _mm_set1_ps(INFINITY);
    size_t f = 0;
    for (; f + 4 <= F; f += 4) {
        __m128 v = _mm256_cvtpd_ps(_mm256_loadu_pd(src + f));
        __m128 nan = _mm_cmpunord_ps(v, v);
        _mm_storeu_ps(xf + f, _mm_blendv_ps(v, ninf, nan));
        _mm_storeu_ps(xf + F + f, _mm_blendv_ps(v, pinf, nan));
    }
    for (; f < F; f++) {
        float v = (float)src[f];
        int isnan_ = v != v;
        xf[f] = isnan_ ? -INFINITY : v;
        xf[F + f] = isnan_ ? INFINITY : v;
    }
}

__attribute__((target("avx512f,avx512vl"))) static void prep_f32_avx512(const float *src, size_t F,
                                                               float *xf)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY), pinf = _mm512_set1_ps(INFINITY);
    for (size_t f = 0; f < F; f += 16) {
        __mmask16 m = F - f >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (F - f)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, src + f);
        __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        _mm512_mask_storeu_ps(xf + f, m, _mm512_mask_blend_ps(nan, v, ninf));
        _mm512_mask_storeu_ps(xf + F + f, m, _mm512_mask_blend_ps(nan, v, pinf));
    }
}

__attribute__((target("avx512f,avx512vl"))) static void prep_f64_avx512(const double *src, size_t F,
                                                               float *xf)
{
    const __m256 ninf = _mm256_set1_ps(-INFINITY), pinf = _mm256_set1_ps(INFINITY);
    for (size_t f = 0; f < F; f += 8) {
        __mmask8 m = F - f >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (F - f)) - 1);
        __m256 v = _mm512_cvtpd_ps(_mm512_maskz_loadu_pd(m, src + f));
        __mmask8 nan = _mm256_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        _mm256_mask_storeu_ps(xf + f, m, _mm256_mask_blend_ps(nan, v, ninf));
        _mm256_mask_storeu_ps(xf + F + f, m, _mm256_mask_blend_ps(nan, v, pinf));
    }
}

#endif

static void (*prep_f32)(const float *, size_t, float *) = prep_f32_portable;
static void (*prep_f64)(const double *, size_t, float *) = prep_f64_portable;
static const char *isa = "portable";
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static int force(const char *want)
{
    if (!strcmp(want, "portable")) {
        prep_f32 = prep_f32_portable;
        prep_f64 = prep_f64_portable;
        isa = "portable";
        return 0;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!strcmp(want, "avx2") && __builtin_cpu_supports("avx2")) {
        prep_f32 = prep_f32_avx2;
        prep_f64 = prep_f64_avx2;
        isa = "avx2";
        return 0;
    }
    if (!strcmp(want, "avx512") && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512vl")) {
        prep_f32 = prep_f32_avx512;
        prep_f64 = prep_f64_avx512;
        isa = "avx512";
        return 0;
    }
#endif
    return -1;
}

static void choose(void)
{
    /* MOPS_RUNTIME_ISA=portable|avx2|avx512 overrides the choice (for
     * tests and benchmarks). */
    const char *env = getenv("MOPS_RUNTIME_ISA");
    if (env && force(env) == 0)
        return;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) {
        prep_f32 = prep_f32_avx512;
        prep_f64 = prep_f64_avx512;
        isa = "avx512";
    } else if (__builtin_cpu_supports("avx2")) {
        prep_f32 = prep_f32_avx2;
        prep_f64 = prep_f64_avx2;
        isa = "avx2";
    }
#endif
}

void runtime__prep_f32(const float *src, size_t F, float *xf)
{
    pthread_once(&choose_once, choose);
    prep_f32(src, F, xf);
    xf[2 * F] = -INFINITY;
}

void runtime__prep_f64(const double *src, size_t F, float *xf)
{
    pthread_once(&choose_once, choose);
    prep_f64(src, F, xf);
    xf[2 * F] = -INFINITY;
}

int runtime__simd_force(const char *want)
{
    pthread_once(&choose_once, choose);
    return force(want);
}

const char *runtime__simd_isa(void)
{
    pthread_once(&choose_once, choose);
    return isa;
}
