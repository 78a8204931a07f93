// `-log(max(p, 1e-15))` for every 16-bit pattern of a float16 or bfloat16 probability.
//
// A 16-bit probability has only 65,536 possible values, so its loss term is looked up: one load
// replaces the widening, the clip and the logarithm. Each table holds what the baseline `log_f64`
// gives for the value (so both paths read the same numbers, `log(1) = 0` exactly, and a loss is
// zero exactly when the probability is 1), is built on first use (about a millisecond) and takes
// 512 KiB. Entries for NaN and ±Inf patterns are meaningless; such batches are rejected.

#include <pthread.h>

static double *negative_log_tables[2];
static pthread_once_t negative_log_tables_once = PTHREAD_ONCE_INIT;

static void build_negative_log_table(double *table, lk_format format) {
    for (uint32_t start = 0; start < (1u << 16); start += 8) {
        double arguments[8];
        for (uint32_t lane = 0; lane < 8; lane++) {
            uint8_t bits[2] = {(uint8_t)(start + lane), (uint8_t)((start + lane) >> 8)};
            double p = load_scalar(format, bits, 0);
            // NaN fails both comparisons and stays 1; ±Inf and huge values are clipped to a normal
            // argument so that the logarithm stays defined.
            arguments[lane] = 1;
            if (p >= 1e-15 && p <= 1e300) {
                arguments[lane] = p;
            } else if (!(p >= 1e-15) && p == p) {
                arguments[lane] = 1e-15;
            }
        }
        f64x8 losses = -log_f64(load_f64x8(arguments));
        store_f64x8(table + start, losses);
    }
}

static void build_negative_log_tables(void) {
    for (int i = 0; i < 2; i++) {
        double *table = aligned_bytes(sizeof(double) << 16);
        if (!table) abort();
        build_negative_log_table(table, i == 0 ? LK_FLOAT16 : LK_BFLOAT16);
        negative_log_tables[i] = table;
    }
}

const double *lk_negative_log_table(lk_format format) {
    pthread_once(&negative_log_tables_once, build_negative_log_tables);
    return negative_log_tables[format == LK_BFLOAT16 ? 1 : 0];
}
