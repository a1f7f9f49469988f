/*
 * mptcp_pm_cfg.c - path manager, host-wide: endpoints and limits with the
 * rules of `ip mptcp endpoint` / `ip mptcp limits` on Linux 6.18
 * (net/mptcp/pm_kernel.c), and their text form as `ip` prints it.
 */
#include <string.h>

#include "err.h"
#include "mptcp_pm.h"
#include "mptcp_pm_int.h"

/* ---- host-wide configuration --------------------------------------------- */

void mpx_pm_cfg_init(struct mpx_pm_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    /* pm_kernel.c pm_nl_init_net(): "2 subflows ought to be enough". */
    cfg->limit_subflows = 2;
    cfg->next_id = 1;
    cfg->add_addr_timeout_ns = MPX_PM_ADD_ADDR_TIMEOUT_NS;
    cfg->allow_join_initial_addr_port = true;
}

static int endp_index_by_id(const struct mpx_pm_cfg *cfg, uint8_t id)
{
    for (int i = 0; i < cfg->nr; i++)
        if (cfg->endp[i].id == id)
            return i;
    return -1;
}

/* pm_kernel.c __lookup_addr(): the port counts only if the endpoint has one. */
int mpx_pm_cfg_find_addr(const struct mpx_pm_cfg *cfg, const struct mpx_addr *addr, uint16_t port)
{
    for (int i = 0; i < cfg->nr; i++) {
        const struct mpx_pm_endpoint *e = &cfg->endp[i];
        if (pm_ip_eq(&e->addr, addr) && (!e->port || e->port == port))
            return i;
    }
    return -1;
}

const struct mpx_pm_endpoint *mpx_pm_endpoint_get(const struct mpx_pm_cfg *cfg, uint8_t id)
{
    int i = endp_index_by_id(cfg, id);
    return i < 0 ? NULL : &cfg->endp[i];
}

static void count_flags(struct mpx_pm_cfg *cfg, uint8_t flags, int delta)
{
    if (flags & MPX_PM_F_SIGNAL)
        cfg->endp_signal_max = (uint8_t)(cfg->endp_signal_max + delta);
    if (flags & MPX_PM_F_SUBFLOW)
        cfg->endp_subflow_max = (uint8_t)(cfg->endp_subflow_max + delta);
    if (flags & MPX_PM_F_FULLMESH)
        cfg->endp_fullmesh_max = (uint8_t)(cfg->endp_fullmesh_max + delta);
    if (flags & MPX_PM_F_LAMINAR)
        cfg->endp_laminar_max = (uint8_t)(cfg->endp_laminar_max + delta);
}

static void endp_remove_at(struct mpx_pm_cfg *cfg, int i, struct mpx_pm_endpoint *out)
{
    if (out)
        *out = cfg->endp[i];
    count_flags(cfg, cfg->endp[i].flags, -1);
    pm_bit_clear(cfg->id_bitmap, cfg->endp[i].id);
    memmove(&cfg->endp[i], &cfg->endp[i + 1], (size_t)(cfg->nr - i - 1) * sizeof(cfg->endp[0]));
    cfg->nr--;
}

/* The id allocator of pm_kernel.c mptcp_pm_nl_append_new_local_addr(): first
 * free id from next_id upwards, wrapping once to 1; next_id follows the
 * highest id handed out, so ids are not reused soon after a delete. */
static uint8_t alloc_id(struct mpx_pm_cfg *cfg)
{
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned id = cfg->next_id; id <= 255; id++)
            if (id && !pm_bit_test(cfg->id_bitmap, id))
                return (uint8_t)id;
        if (cfg->next_id == 1)
            break;
        cfg->next_id = 1;
    }
    return 0;
}

static int validate_new(const struct mpx_pm_endpoint *ep)
{
    if (ep->addr.family != MPX_AF_INET && ep->addr.family != MPX_AF_INET6)
        return MPX_ERR_INVAL;
    if (ep->flags & ~(MPX_PM_F_SIGNAL | MPX_PM_F_SUBFLOW | MPX_PM_F_BACKUP | MPX_PM_F_FULLMESH |
                      MPX_PM_F_IMPLICIT | MPX_PM_F_LAMINAR))
        return MPX_ERR_INVAL;
    /* Kernel: "flags must have signal and not subflow when using port". */
    if (ep->port && (ep->flags & (MPX_PM_F_SIGNAL | MPX_PM_F_SUBFLOW)) != MPX_PM_F_SIGNAL)
        return MPX_ERR_INVAL;
    /* Kernel: "flags mustn't have both signal and fullmesh". */
    if ((ep->flags & MPX_PM_F_SIGNAL) && (ep->flags & MPX_PM_F_FULLMESH))
        return MPX_ERR_INVAL;
    return 0;
}

/* Insert without validation of flags. An add without id takes over an
 * implicit endpoint of the same address (kernel rule). */
int mpx_pm_cfg_insert(struct mpx_pm_cfg *cfg, const struct mpx_pm_endpoint *in)
{
    struct mpx_pm_endpoint ep = *in;
    int replace = -1;

    if (cfg->next_id == 255)
        cfg->next_id = 1;
    /* Checks in the kernel's order: table full, id busy, duplicate. */
    if (cfg->nr >= MPX_PM_ENDP_MAX)
        return MPX_ERR_NOSPACE;
    if (ep.id && pm_bit_test(cfg->id_bitmap, ep.id))
        return MPX_ERR_EXIST;
    for (int i = 0; i < cfg->nr; i++) {
        const struct mpx_pm_endpoint *c = &cfg->endp[i];
        if (!pm_ip_eq(&c->addr, &ep.addr) || ((c->port || ep.port) && c->port != ep.port))
            continue;
        if (!(c->flags & MPX_PM_F_IMPLICIT))
            return MPX_ERR_EXIST;
        if (ep.id)
            return MPX_ERR_INVAL;
        replace = i;
    }
    if (replace >= 0) {
        ep.id = cfg->endp[replace].id;
        endp_remove_at(cfg, replace, NULL);
    } else if (!ep.id) {
        ep.id = alloc_id(cfg);
        if (!ep.id)
            return MPX_ERR_NOSPACE;
    }
    pm_bit_set(cfg->id_bitmap, ep.id);
    if (ep.id > cfg->next_id)
        cfg->next_id = ep.id;
    count_flags(cfg, ep.flags, +1);
    /* Kernel list order: endpoints with a port first, others appended. */
    if (ep.port) {
        memmove(&cfg->endp[1], &cfg->endp[0], cfg->nr * sizeof(cfg->endp[0]));
        cfg->endp[0] = ep;
    } else {
        cfg->endp[cfg->nr] = ep;
    }
    cfg->nr++;
    return ep.id;
}

int mpx_pm_endpoint_add(struct mpx_pm_cfg *cfg, const struct mpx_pm_endpoint *ep)
{
    int rc = validate_new(ep);
    if (rc < 0)
        return rc;
    if (ep->flags & MPX_PM_F_IMPLICIT) /* kernel: "can't create IMPLICIT endpoint" */
        return MPX_ERR_INVAL;
    return mpx_pm_cfg_insert(cfg, ep);
}

int mpx_pm_endpoint_del(struct mpx_pm_cfg *cfg, uint8_t id, struct mpx_pm_endpoint *out)
{
    if (id == 0)
        return MPX_ERR_INVAL; /* id 0 is per connection: mpx_pm_on_endp_id0_removed() */
    int i = endp_index_by_id(cfg, id);
    if (i < 0)
        return MPX_ERR_NOENT;
    endp_remove_at(cfg, i, out);
    return 0;
}

int mpx_pm_endpoint_del_addr(struct mpx_pm_cfg *cfg, const struct mpx_addr *addr, uint16_t port,
                             struct mpx_pm_endpoint *out)
{
    for (int i = 0; i < cfg->nr; i++) {
        if (pm_ip_eq(&cfg->endp[i].addr, addr) && cfg->endp[i].port == port) {
            endp_remove_at(cfg, i, out);
            return 0;
        }
    }
    return MPX_ERR_NOENT;
}

size_t mpx_pm_endpoint_flush(struct mpx_pm_cfg *cfg, struct mpx_pm_endpoint *out, size_t cap)
{
    size_t n = cfg->nr;
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = cfg->endp[i];
    cfg->nr = 0;
    cfg->endp_signal_max = cfg->endp_subflow_max = cfg->endp_fullmesh_max = 0;
    cfg->endp_laminar_max = 0;
    cfg->next_id = 1;
    memset(cfg->id_bitmap, 0, sizeof(cfg->id_bitmap));
    return n;
}

int mpx_pm_endpoint_change(struct mpx_pm_cfg *cfg, uint8_t id, const struct mpx_addr *addr,
                           uint8_t flags, uint8_t *changed)
{
    const uint8_t mask = MPX_PM_F_BACKUP | MPX_PM_F_FULLMESH;
    int i;

    if (flags & ~mask) /* iproute2: "invalid flags, backup and fullmesh only" */
        return MPX_ERR_INVAL;
    if (id)
        i = endp_index_by_id(cfg, id);
    else if (addr)
        i = mpx_pm_cfg_find_addr(cfg, addr, 0);
    else
        return MPX_ERR_INVAL; /* kernel: "missing address ID" */
    if (i < 0)
        return MPX_ERR_NOENT;
    struct mpx_pm_endpoint *e = &cfg->endp[i];
    if ((flags & MPX_PM_F_FULLMESH) && (e->flags & (MPX_PM_F_SIGNAL | MPX_PM_F_IMPLICIT)))
        return MPX_ERR_INVAL; /* kernel: "invalid addr flags" */
    uint8_t ch = (uint8_t)((flags ^ e->flags) & mask);
    if (ch & MPX_PM_F_FULLMESH)
        cfg->endp_fullmesh_max =
            (uint8_t)(cfg->endp_fullmesh_max + ((flags & MPX_PM_F_FULLMESH) ? 1 : -1));
    e->flags = (uint8_t)((e->flags & ~mask) | flags);
    if (changed)
        *changed = ch;
    return 0;
}

size_t mpx_pm_endpoint_list(const struct mpx_pm_cfg *cfg, struct mpx_pm_endpoint *out, size_t cap)
{
    size_t n = 0;
    for (unsigned id = 1; id <= 255 && n < cap; id++) {
        if (!pm_bit_test(cfg->id_bitmap, id))
            continue;
        const struct mpx_pm_endpoint *e = mpx_pm_endpoint_get(cfg, (uint8_t)id);
        if (e)
            out[n++] = *e;
    }
    return n;
}

int mpx_pm_limits_set(struct mpx_pm_cfg *cfg, int subflows, int add_addr_accepted)
{
    if (subflows > MPX_PM_LIMIT_MAX || add_addr_accepted > MPX_PM_LIMIT_MAX)
        return MPX_ERR_INVAL; /* kernel: "limit greater than maximum (8)" */
    if (subflows >= 0)
        cfg->limit_subflows = (uint8_t)subflows;
    if (add_addr_accepted >= 0)
        cfg->limit_add_addr_accepted = (uint8_t)add_addr_accepted;
    return 0;
}

/* ---- text formatting (no stdio in the core) ------------------------------ */

struct sbuf {
    char *buf;
    size_t cap, len;
};

static void sb_puts(struct sbuf *sb, const char *s)
{
    for (; *s; s++, sb->len++)
        if (sb->len + 1 < sb->cap)
            sb->buf[sb->len] = *s;
    if (sb->cap)
        sb->buf[sb->len < sb->cap ? sb->len : sb->cap - 1] = '\0';
}

static void sb_putu(struct sbuf *sb, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp) - 1;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sb_puts(sb, &tmp[i]);
}

static void sb_puthex(struct sbuf *sb, unsigned v)
{
    static const char hx[] = "0123456789abcdef";
    char tmp[3] = {hx[(v >> 4) & 15], hx[v & 15], '\0'};
    sb_puts(sb, "0x");
    sb_puts(sb, tmp);
}

/* iproute2 ipmptcp.c print_addr(): "ADDR [port P] id N FLAGS... [dev IF] ". */
size_t mpx_pm_endpoint_fmt(const struct mpx_pm_endpoint *ep, char *buf, size_t cap)
{
    static const char *const names[] = {"signal",   "subflow",  "backup",
                                        "fullmesh", "implicit", "laminar"};
    struct sbuf sb = {buf, cap, 0};
    char a[64];
    uint8_t rest = ep->flags;

    if (cap)
        buf[0] = '\0';
    sb_puts(&sb, mpx_addr_fmt(&ep->addr, a, sizeof(a)));
    sb_puts(&sb, " ");
    if (ep->port) {
        sb_puts(&sb, "port ");
        sb_putu(&sb, ep->port);
        sb_puts(&sb, " ");
    }
    sb_puts(&sb, "id ");
    sb_putu(&sb, ep->id);
    sb_puts(&sb, " ");
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (rest & (1u << i)) {
            sb_puts(&sb, names[i]);
            sb_puts(&sb, " ");
            rest &= (uint8_t) ~(1u << i);
        }
    }
    if (rest) {
        sb_puts(&sb, "flags ");
        sb_puthex(&sb, rest);
        sb_puts(&sb, " ");
    }
    if (ep->ifindex) {
        sb_puts(&sb, "dev ");
        if (ep->ifname[0]) {
            char name[sizeof(ep->ifname) + 1];
            memcpy(name, ep->ifname, sizeof(ep->ifname));
            name[sizeof(ep->ifname)] = '\0';
            sb_puts(&sb, name);
        } else { /* ll_index_to_name() of an unknown index */
            sb_puts(&sb, "if");
            sb_putu(&sb, (uint64_t)ep->ifindex);
        }
        sb_puts(&sb, " ");
    }
    return sb.len;
}

size_t mpx_pm_limits_fmt(const struct mpx_pm_cfg *cfg, char *buf, size_t cap)
{
    struct sbuf sb = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    sb_puts(&sb, "add_addr_accepted ");
    sb_putu(&sb, cfg->limit_add_addr_accepted);
    sb_puts(&sb, " subflows ");
    sb_putu(&sb, cfg->limit_subflows);
    sb_puts(&sb, " ");
    return sb.len;
}
