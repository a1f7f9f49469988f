/*
 * wire_addr.c - address helpers and the internet checksum.
 *
 * The checksum accumulator is defined as the ones' complement sum of the
 * data taken as BIG-ENDIAN 16-bit words (the value RFC 1071 describes), kept
 * in a uint32_t that callers may chain through several mpx_csum_add() calls
 * and plain additions of 16-bit quantities before mpx_csum_fold(). Internally
 * mpx_csum_add() sums native-order 32-bit words into a 64-bit accumulator
 * (RFC 1071 section 2 (B) and (C): the sum is byte-order independent up to a
 * final byte swap, and deferred carries can be folded at the end), which is
 * several times faster than a byte-pair loop on every packet.
 */
#include <string.h>

#include "conv.h"
#include "wire_addr.h"

bool mpx_addr_eq(const struct mpx_addr *x, const struct mpx_addr *y)
{
    if (x->family != y->family)
        return false;
    return memcmp(x->a, y->a, mpx_addr_len(x)) == 0;
}

struct mpx_addr mpx_addr_v4(uint32_t host_order)
{
    struct mpx_addr addr;
    memset(&addr, 0, sizeof(addr));
    addr.family = MPX_AF_INET;
    mpx_put_be32(addr.a, host_order);
    return addr;
}

/* Appends |s| at |*pos| in |buf| (capacity |cap|, always NUL-terminated). */
static void put_str(char *buf, size_t cap, size_t *pos, const char *s)
{
    for (; *s && *pos + 1 < cap; s++)
        buf[(*pos)++] = *s;
    buf[*pos] = '\0';
}

static void put_dec(char *buf, size_t cap, size_t *pos, unsigned v)
{
    char tmp[12];
    size_t n = sizeof(tmp) - 1;
    tmp[n] = '\0';
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n);
    put_str(buf, cap, pos, tmp + n);
}

/* Lower-case hex without leading zeros, RFC 5952 section 4.1 and 4.3. */
static void put_hex16(char *buf, size_t cap, size_t *pos, unsigned v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[5];
    size_t n = sizeof(tmp) - 1;
    tmp[n] = '\0';
    do {
        tmp[--n] = digits[v & 0xf];
        v >>= 4;
    } while (v);
    put_str(buf, cap, pos, tmp + n);
}

static void fmt_v4(const uint8_t *a, char *buf, size_t cap, size_t *pos)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            put_str(buf, cap, pos, ".");
        put_dec(buf, cap, pos, a[i]);
    }
}

/* Longest run of at least two zero groups, the first one on a tie
 * (RFC 5952 section 4.2.2 and 4.2.3). Returns its start or -1. */
static int longest_zero_run(const uint16_t *g, int *run_len)
{
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j > i ? j : i + 1;
    }
    *run_len = best_len;
    return best;
}

static void fmt_v6(const uint8_t *a, char *buf, size_t cap, size_t *pos)
{
    static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint16_t g[8];
    int run_len, run;

    /* RFC 5952 section 5: IPv4-mapped addresses in mixed notation. */
    if (memcmp(a, mapped_prefix, sizeof(mapped_prefix)) == 0) {
        put_str(buf, cap, pos, "::ffff:");
        fmt_v4(a + 12, buf, cap, pos);
        return;
    }
    for (int i = 0; i < 8; i++)
        g[i] = mpx_load_be16(a + 2 * i);
    run = longest_zero_run(g, &run_len);
    for (int i = 0; i < 8; i++) {
        if (i == run) {
            put_str(buf, cap, pos, "::");
            i += run_len - 1;
            continue;
        }
        if (i && i != run + run_len)
            put_str(buf, cap, pos, ":");
        put_hex16(buf, cap, pos, g[i]);
    }
}

const char *mpx_addr_fmt(const struct mpx_addr *addr, char *buf, size_t buflen)
{
    size_t pos = 0;
    if (buflen == 0)
        return buf;
    buf[0] = '\0';
    switch (addr->family) {
    case MPX_AF_INET:
        fmt_v4(addr->a, buf, buflen, &pos);
        break;
    case MPX_AF_INET6:
        fmt_v6(addr->a, buf, buflen, &pos);
        break;
    default:
        put_str(buf, buflen, &pos, "none");
        break;
    }
    return buf;
}

/* Folds a 64-bit ones' complement accumulator to 16 bits (not complemented). */
static uint32_t fold64(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return (uint32_t)s;
}

static uint32_t load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof(w));
    return w;
}

uint32_t mpx_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    uint64_t acc = 0;
    uint32_t s16;

    /* Four independent adds per round let the CPU overlap them; 64-bit
     * accumulation of 32-bit words cannot overflow below 2^32 words. */
    for (; len >= 16; p += 16, len -= 16)
        acc += (uint64_t)load32(p) + load32(p + 4) + load32(p + 8) + load32(p + 12);
    for (; len >= 4; p += 4, len -= 4)
        acc += load32(p);
    if (len) {
        /* Tail padded with zero bytes: RFC 1071 odd-length rule. */
        uint8_t tail[4] = {0, 0, 0, 0};
        memcpy(tail, p, len);
        acc += load32(tail);
    }
    s16 = fold64(acc);
    /* Native little-endian words give the byte-swapped sum (RFC 1071
     * section 2 (B)); bring it back to the big-endian convention. */
    if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
        s16 = ((s16 & 0xffu) << 8) | (s16 >> 8);
    return fold64((uint64_t)sum + s16);
}

uint16_t mpx_csum_fold(uint32_t sum)
{
    return (uint16_t)~fold64(sum);
}

uint32_t mpx_csum_pseudo(const struct mpx_addr *src, const struct mpx_addr *dst, uint8_t proto,
                         uint32_t len)
{
    /* RFC 9293 section 3.1 (IPv4: 12 bytes) and RFC 8200 section 8.1 (IPv6:
     * 32-bit length, 3 zero bytes, next header): both reduce to the same
     * sum of 16-bit words. */
    uint64_t acc = (uint64_t)proto + (len >> 16) + (len & 0xffffu);
    size_t n = mpx_addr_len(src);
    for (size_t i = 0; i < n; i += 2)
        acc += mpx_load_be16(src->a + i) + mpx_load_be16(dst->a + i);
    return fold64(acc);
}
