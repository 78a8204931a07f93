// The vectorized passes for the baseline instruction set (SSE2 on x86-64): every CPU runs these.

#define LK_AVX2 0
#define LK_NAME(name) name##_baseline
#define LK_THIS_PATH LK_PATH_BASELINE

#include "Kernels.h"
#include "NegativeLogTable.h"
