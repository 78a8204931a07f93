// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF), the
// checksum of iSCSI (RFC 3720), ext4, TFRecord and `.lossrec` version 2 recordings.
//
// Every function takes the CRC-32C of the bytes before `data` (0 for none) and returns the
// CRC-32C of those bytes followed by `count` bytes at `data`, as zlib's crc32() does; so
// lossd_crc32c(lossd_crc32c(0, a, n), b, m) is the CRC-32C of a followed by b. Any alignment and
// any length are fine. All functions are thread-safe.

#ifndef LOSSD_CCRC32C_H
#define LOSSD_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The fastest implementation this CPU runs: the CRC instruction where the CPU has it (checked
/// once, at the first call), otherwise the portable one.
uint32_t lossd_crc32c(uint32_t crc, const void *data, size_t count);

/// The portable implementation: eight table lookups per eight bytes ("slicing-by-8").
uint32_t lossd_crc32c_portable(uint32_t crc, const void *data, size_t count);

/// The CPU-instruction implementation (SSE4.2 `crc32` on x86-64, the CRC extension on arm64),
/// three independent streams combined at the end. Call it only when
/// lossd_crc32c_hardware_name() is not NULL: on a CPU without the instruction it traps.
uint32_t lossd_crc32c_hardware(uint32_t crc, const void *data, size_t count);

/// The name of the CPU instruction set lossd_crc32c() uses ("sse4.2" or "armv8-crc"), or NULL
/// when this CPU (or this build's architecture) has none and the portable code runs.
const char *lossd_crc32c_hardware_name(void);

#ifdef __cplusplus
}
#endif

#endif
