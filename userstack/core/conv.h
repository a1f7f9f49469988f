/*
 * conv.h - big-endian loads and stores for wire formats.
 *
 * Every codec reads and writes packet bytes only through these helpers, so
 * byte order lives in one place (the model is ngtcp2_conv.h). The put
 * helpers return the position one past the last byte written, the get
 * helpers the position one past the last byte read, so call sites chain.
 * Callers check lengths before calling: these helpers do no bounds checks.
 */
#ifndef MPX_CONV_H
#define MPX_CONV_H

#include <stdint.h>
#include <string.h>

static inline const uint8_t *mpx_get_u8(uint8_t *dst, const uint8_t *p)
{
    *dst = p[0];
    return p + 1;
}

static inline const uint8_t *mpx_get_be16(uint16_t *dst, const uint8_t *p)
{
    *dst = (uint16_t)((uint16_t)p[0] << 8 | p[1]);
    return p + 2;
}

static inline const uint8_t *mpx_get_be32(uint32_t *dst, const uint8_t *p)
{
    *dst = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return p + 4;
}

static inline const uint8_t *mpx_get_be64(uint64_t *dst, const uint8_t *p)
{
    uint32_t hi, lo;
    p = mpx_get_be32(&hi, p);
    p = mpx_get_be32(&lo, p);
    *dst = (uint64_t)hi << 32 | lo;
    return p;
}

static inline const uint8_t *mpx_get_bytes(void *dst, const uint8_t *p, size_t n)
{
    memcpy(dst, p, n);
    return p + n;
}

static inline uint8_t *mpx_put_u8(uint8_t *p, uint8_t v)
{
    p[0] = v;
    return p + 1;
}

static inline uint8_t *mpx_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *mpx_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline uint8_t *mpx_put_be64(uint8_t *p, uint64_t v)
{
    p = mpx_put_be32(p, (uint32_t)(v >> 32));
    return mpx_put_be32(p, (uint32_t)v);
}

static inline uint8_t *mpx_put_bytes(uint8_t *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

/* Plain-integer forms, for values that are not read from a stream. */
static inline uint16_t mpx_load_be16(const uint8_t *p)
{
    uint16_t v;
    mpx_get_be16(&v, p);
    return v;
}

static inline uint32_t mpx_load_be32(const uint8_t *p)
{
    uint32_t v;
    mpx_get_be32(&v, p);
    return v;
}

static inline uint64_t mpx_load_be64(const uint8_t *p)
{
    uint64_t v;
    mpx_get_be64(&v, p);
    return v;
}

#endif /* MPX_CONV_H */
