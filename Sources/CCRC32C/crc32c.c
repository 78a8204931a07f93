// CRC-32C: a portable slicing-by-8 implementation and one that uses the CPU's CRC instruction,
// chosen at run time.
//
// Why C and not Swift: the instruction is reachable only through compiler intrinsics that need
// the instruction set enabled for the function that uses them. C can enable it for one function
// (`__attribute__((target(...)))`) and leave the rest of the program built for the baseline CPU;
// Swift can only enable a feature for a whole module, which would make every function in it trap
// on a CPU without the instruction. So the CPU check and the two implementations live here, and
// the Swift module `Checksums` wraps them.
//
// The hardware path follows the usual three-stream scheme: the CRC instruction has a latency of
// about three cycles but a throughput of one per cycle, so three independent CRCs run over three
// adjacent blocks and are combined afterwards with the "append n zero bytes" operator of the CRC
// (four table lookups per block), which reaches about three times the speed of one stream.

#include "CCRC32C.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define LOSSD_CRC32C_X86 1
#include <cpuid.h>
#include <nmmintrin.h>
#define LOSSD_HARDWARE_TARGET __attribute__((target("sse4.2")))
#elif defined(__aarch64__) || defined(_M_ARM64)
#define LOSSD_CRC32C_ARM 1
#include <arm_acle.h>
#if defined(__clang__)
#define LOSSD_HARDWARE_TARGET __attribute__((target("crc")))
#else
#define LOSSD_HARDWARE_TARGET __attribute__((target("+crc")))
#endif
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#endif

/// The reflected CRC-32C polynomial.
#define POLY 0x82F63B78u
/// Block sizes of the three-stream loop: long blocks for large buffers, short ones for the rest.
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256

/// slicing[k][b]: the CRC register after byte b followed by k zero bytes (k = 0 is the byte table).
static uint32_t slicing[8][256];
/// The "append LONG_BLOCK (SHORT_BLOCK) zero bytes" operator, one table per byte of the register.
static uint32_t zeros_long[4][256];
static uint32_t zeros_short[4][256];

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static uint32_t (*fastest)(uint32_t, const void *, size_t) = lossd_crc32c_portable;
static const char *hardware_name = NULL;

/// The product of a 32×32 matrix over GF(2) (column i is `matrix[i]`) and a vector.
static uint32_t gf2_times(const uint32_t *matrix, uint32_t vector) {
    uint32_t sum = 0;
    for (int column = 0; vector != 0; column++, vector >>= 1) {
        if (vector & 1) sum ^= matrix[column];
    }
    return sum;
}

/// `result = matrix × matrix`; `result` and `matrix` must not overlap.
static void gf2_square(uint32_t *result, const uint32_t *matrix) {
    for (int column = 0; column < 32; column++) result[column] = gf2_times(matrix, matrix[column]);
}

/// Fills `tables` with the operator that appends `bytes` zero bytes (a power of two) to a register.
static void make_zeros_tables(uint32_t tables[4][256], size_t bytes) {
    uint32_t matrix[32], squared[32];
    // One zero bit: shift right, and fold the polynomial in when the low bit falls out.
    matrix[0] = POLY;
    for (int column = 1; column < 32; column++) matrix[column] = 1u << (column - 1);
    // Square three times for one zero byte, then once more per doubling.
    size_t bits = 1;
    while (bits < 8 * bytes) {
        gf2_square(squared, matrix);
        memcpy(matrix, squared, sizeof matrix);
        bits <<= 1;
    }
    for (uint32_t byte = 0; byte < 256; byte++) {
        for (int lane = 0; lane < 4; lane++) tables[lane][byte] = gf2_times(matrix, byte << (8 * lane));
    }
}

static inline uint32_t shift(const uint32_t tables[4][256], uint32_t crc) {
    return tables[0][crc & 0xFF] ^ tables[1][(crc >> 8) & 0xFF] ^ tables[2][(crc >> 16) & 0xFF]
        ^ tables[3][crc >> 24];
}

static inline uint64_t load64(const unsigned char *bytes) {
    uint64_t value;
    memcpy(&value, bytes, sizeof value);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    value = __builtin_bswap64(value);
#endif
    return value;
}

#if LOSSD_CRC32C_X86
static int cpu_has_instruction(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) != 0;
}
#define HARDWARE_NAME "sse4.2"
#define CRC_BYTE(crc, byte) _mm_crc32_u8((crc), (byte))
#define CRC_WORD(crc, word) ((uint32_t)_mm_crc32_u64((crc), (word)))
#elif LOSSD_CRC32C_ARM
static int cpu_has_instruction(void) {
#if defined(__ARM_FEATURE_CRC32)
    return 1;
#elif defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#elif defined(__APPLE__)
    int value = 0;
    size_t size = sizeof value;
    return sysctlbyname("hw.optional.armv8_crc32", &value, &size, NULL, 0) == 0 && value != 0;
#else
    return 0;
#endif
}
#define HARDWARE_NAME "armv8-crc"
#define CRC_BYTE(crc, byte) __crc32cb((crc), (byte))
#define CRC_WORD(crc, word) __crc32cd((crc), (word))
#endif

static void setup(void) {
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++) crc = (crc & 1) ? (crc >> 1) ^ POLY : crc >> 1;
        slicing[0][byte] = crc;
    }
    for (int k = 1; k < 8; k++) {
        for (int byte = 0; byte < 256; byte++) {
            uint32_t previous = slicing[k - 1][byte];
            slicing[k][byte] = (previous >> 8) ^ slicing[0][previous & 0xFF];
        }
    }
    make_zeros_tables(zeros_long, LONG_BLOCK);
    make_zeros_tables(zeros_short, SHORT_BLOCK);
#if defined(HARDWARE_NAME)
    if (cpu_has_instruction()) {
        fastest = lossd_crc32c_hardware;
        hardware_name = HARDWARE_NAME;
    }
#endif
}

static void ensure_setup(void) {
    // pthread_once fails only for an invalid control; there is no way to go on without the tables.
    if (pthread_once(&setup_once, setup) != 0) abort();
}

uint32_t lossd_crc32c_portable(uint32_t crc, const void *data, size_t count) {
    ensure_setup();
    const unsigned char *next = data;
    uint32_t value = ~crc;
    while (count > 0 && ((uintptr_t)next & 7) != 0) {
        value = slicing[0][(value ^ *next++) & 0xFF] ^ (value >> 8);
        count--;
    }
    while (count >= 8) {
        uint64_t word = load64(next) ^ value;
        value = slicing[7][word & 0xFF] ^ slicing[6][(word >> 8) & 0xFF] ^ slicing[5][(word >> 16) & 0xFF]
            ^ slicing[4][(word >> 24) & 0xFF] ^ slicing[3][(word >> 32) & 0xFF] ^ slicing[2][(word >> 40) & 0xFF]
            ^ slicing[1][(word >> 48) & 0xFF] ^ slicing[0][word >> 56];
        next += 8;
        count -= 8;
    }
    while (count > 0) {
        value = slicing[0][(value ^ *next++) & 0xFF] ^ (value >> 8);
        count--;
    }
    return ~value;
}

#if defined(HARDWARE_NAME)
/// Three streams over three adjacent blocks of `block` bytes each, for as long as they fit.
#define THREE_STREAMS(block, tables)                                           \
    while (count >= 3 * (size_t)(block)) {                                     \
        uint32_t one = 0, two = 0;                                             \
        const unsigned char *end = next + (block);                             \
        do {                                                                   \
            value = CRC_WORD(value, load64(next));                             \
            one = CRC_WORD(one, load64(next + (block)));                       \
            two = CRC_WORD(two, load64(next + 2 * (block)));                   \
            next += 8;                                                         \
        } while (next < end);                                                  \
        value = shift(tables, value) ^ one;                                    \
        value = shift(tables, value) ^ two;                                    \
        next += 2 * (block);                                                   \
        count -= 3 * (size_t)(block);                                          \
    }

LOSSD_HARDWARE_TARGET
uint32_t lossd_crc32c_hardware(uint32_t crc, const void *data, size_t count) {
    ensure_setup();
    const unsigned char *next = data;
    uint32_t value = ~crc;
    while (count > 0 && ((uintptr_t)next & 7) != 0) {
        value = CRC_BYTE(value, *next++);
        count--;
    }
    THREE_STREAMS(LONG_BLOCK, zeros_long)
    THREE_STREAMS(SHORT_BLOCK, zeros_short)
    while (count >= 8) {
        value = CRC_WORD(value, load64(next));
        next += 8;
        count -= 8;
    }
    while (count > 0) {
        value = CRC_BYTE(value, *next++);
        count--;
    }
    return ~value;
}
#else
uint32_t lossd_crc32c_hardware(uint32_t crc, const void *data, size_t count) {
    // No CRC instruction on this architecture: lossd_crc32c_hardware_name() is NULL, and a
    // caller that ignores it still gets the right checksum.
    return lossd_crc32c_portable(crc, data, count);
}
#endif

uint32_t lossd_crc32c(uint32_t crc, const void *data, size_t count) {
    ensure_setup();
    return fastest(crc, data, count);
}

const char *lossd_crc32c_hardware_name(void) {
    ensure_setup();
    return hardware_name;
}
