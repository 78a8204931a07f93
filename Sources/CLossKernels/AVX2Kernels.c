// The vectorized passes for AVX2 with FMA and F16C: the same code as BaselineKernels.c, each
// function compiled with those instructions enabled. Dispatch.c calls into this unit only on a
// CPU (and OS) that supports them. Off x86-64 it builds nothing and dispatch never selects it.

#if defined(__x86_64__)
#define LK_AVX2 1
#define LK_NAME(name) name##_avx2
#define LK_THIS_PATH LK_PATH_AVX2

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "Kernels.h"
#pragma clang attribute pop
#endif
