/*
 * mptcp_pm_int.h - private to mptcp_pm.c and mptcp_pm_cfg.c.
 */
#ifndef MPX_MPTCP_PM_INT_H
#define MPX_MPTCP_PM_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mptcp_pm.h"

static inline bool pm_bit_test(const uint8_t *bm, unsigned id)
{
    return (bm[id >> 3] >> (id & 7)) & 1;
}

static inline void pm_bit_set(uint8_t *bm, unsigned id)
{
    bm[id >> 3] |= (uint8_t)(1u << (id & 7));
}

static inline void pm_bit_clear(uint8_t *bm, unsigned id)
{
    bm[id >> 3] &= (uint8_t) ~(1u << (id & 7));
}

static inline bool pm_is_v4mapped(const struct mpx_addr *a)
{
    static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return a->family == MPX_AF_INET6 && memcmp(a->a, pfx, 12) == 0;
}

/* pm.c mptcp_addresses_equal(): a v4 address equals its v4-mapped form. */
static inline bool pm_ip_eq(const struct mpx_addr *x, const struct mpx_addr *y)
{
    if (x->family == y->family)
        return memcmp(x->a, y->a, mpx_addr_len(x)) == 0;
    if (x->family == MPX_AF_INET && pm_is_v4mapped(y))
        return memcmp(x->a, y->a + 12, 4) == 0;
    if (y->family == MPX_AF_INET && pm_is_v4mapped(x))
        return memcmp(y->a, x->a + 12, 4) == 0;
    return false;
}

/* Index in cfg->endp of the endpoint for |addr|:|port| (the port counts
 * only when the endpoint has one: pm_kernel.c __lookup_addr()), or -1. */
int mpx_pm_cfg_find_addr(const struct mpx_pm_cfg *cfg, const struct mpx_addr *addr, uint16_t port);
/* Insert |ep| (flags already validated; implicit endpoints come here too);
 * returns its id or a negative MPX_ERR_*. */
int mpx_pm_cfg_insert(struct mpx_pm_cfg *cfg, const struct mpx_pm_endpoint *ep);

#endif /* MPX_MPTCP_PM_INT_H */
