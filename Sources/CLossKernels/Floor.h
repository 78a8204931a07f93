// The memory floor: one vectorized read of every byte, which no loss can beat.

static double stream_sum_body(const uint8_t *bytes, size_t count) {
    const size_t lanes = count / 4;
    const size_t blocks = lanes / 32;
    f32x8 a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t block = 0; block < blocks; block++) {
        const uint8_t *at = bytes + block * 128;
        a0 += load_f32x8(at);
        a1 += load_f32x8(at + 32);
        a2 += load_f32x8(at + 64);
        a3 += load_f32x8(at + 96);
    }
    double total = hsum_f32((a0 + a1) + (a2 + a3));
    for (size_t lane = blocks * 32; lane < lanes; lane++) {
        float value;
        memcpy(&value, bytes + lane * 4, 4);
        total += value;
    }
    return total;
}
