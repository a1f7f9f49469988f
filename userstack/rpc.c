/*
 * rpc.c - encode/decode/validate of the control protocol (see rpc.h), and
 * the text helpers the CLI and the daemon's configuration share.
 */
#include "rpc.h"

#include "err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

_Static_assert(sizeof(struct mpx_rpc_hdr) == 16, "hdr layout");
_Static_assert(sizeof(struct mpx_rpc_addr) == 20, "addr layout");
_Static_assert(sizeof(struct mpx_rpc_endp) == 44, "endp layout");
_Static_assert(sizeof(struct mpx_rpc_sf) == 136, "sf layout");
_Static_assert(sizeof(struct mpx_rpc_counter) == 56, "counter layout");
_Static_assert(sizeof(struct mpx_rpc_event) == 72, "event layout");
_Static_assert(sizeof(struct mpx_rpc_conn_key) == 72, "conn key layout");
_Static_assert(sizeof(struct mpx_rpc_conn_info) + sizeof(struct mpx_rpc_hdr) <= MPX_RPC_MSG_MAX,
               "conn info fits a message");
_Static_assert(sizeof(struct mpx_rpc_counters) + sizeof(struct mpx_rpc_hdr) <= MPX_RPC_MSG_MAX,
               "counters fit a message");

typedef int (*check_fn)(const void *body, const char **why);

/* One row per type: who receives it, its fixed size, the element size and
 * the offset of the uint32 count for variable types, the fds it may carry,
 * and a field check. */
struct type_desc {
    const char *name;
    uint8_t dir;
    size_t fixed;     /* body bytes before the array (or whole body) */
    size_t elem;      /* 0: fixed-size type */
    size_t count_off; /* offset of the uint32 count */
    uint32_t max_n;
    uint8_t fds_min, fds_max;
    check_fn check;
};

static bool zeros(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static bool has_nul(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

#define FAIL(code, what)                                                                           \
    do {                                                                                           \
        *why = (what);                                                                             \
        return (code);                                                                             \
    } while (0)

/* family 0 (none) only when |allow_none|; IPv4 keeps a[4..15] zero so two
 * addresses compare with memcmp, as the core's struct mpx_addr does. */
static int check_addr(const struct mpx_rpc_addr *a, bool allow_none, const char **why)
{
    if (!zeros(a->pad, sizeof(a->pad)))
        FAIL(MPX_RPC_E_PAD, "addr.pad");
    if (a->family == 0) {
        if (!allow_none)
            FAIL(MPX_RPC_E_RANGE, "addr.family");
        if (!zeros(a->a, sizeof(a->a)))
            FAIL(MPX_RPC_E_RANGE, "addr.a");
        return MPX_RPC_OK;
    }
    if (a->family == 4) {
        if (!zeros(a->a + 4, 12))
            FAIL(MPX_RPC_E_RANGE, "addr.a");
        return MPX_RPC_OK;
    }
    if (a->family != 6)
        FAIL(MPX_RPC_E_RANGE, "addr.family");
    return MPX_RPC_OK;
}

static int check_status(const void *b, const char **why)
{
    const struct mpx_rpc_status *s = b;
    if (s->pad)
        FAIL(MPX_RPC_E_PAD, "status.pad");
    if (s->status > 0 || s->status < -4095)
        FAIL(MPX_RPC_E_RANGE, "status.status");
    if (!has_nul(s->msg, sizeof(s->msg)))
        FAIL(MPX_RPC_E_STRING, "status.msg");
    return MPX_RPC_OK;
}

static int check_one_endp(const struct mpx_rpc_endp *e, const char **why)
{
    if (e->flags & ~MPX_RPC_ENDP_FLAGS_ALL)
        FAIL(MPX_RPC_E_RANGE, "endp.flags");
    if (e->ifindex < 0)
        FAIL(MPX_RPC_E_RANGE, "endp.ifindex");
    if (!has_nul(e->ifname, sizeof(e->ifname)))
        FAIL(MPX_RPC_E_STRING, "endp.ifname");
    return check_addr(&e->addr, true, why);
}

static int check_endp(const void *b, const char **why)
{
    return check_one_endp(b, why);
}

static int check_endp_list(const void *b, const char **why)
{
    const struct mpx_rpc_endp_list *l = b;
    if (l->pad)
        FAIL(MPX_RPC_E_PAD, "endp_list.pad");
    for (uint32_t i = 0; i < l->n; i++) {
        int rc = check_one_endp(&l->e[i], why);
        if (rc)
            return rc;
    }
    return MPX_RPC_OK;
}

static int check_limits(const void *b, const char **why)
{
    const struct mpx_rpc_limits *l = b;
    /* -1 = unchanged; the daemon enforces the 0..8 limit with a message. */
    if (l->subflows < -1 || l->subflows > 255)
        FAIL(MPX_RPC_E_RANGE, "limits.subflows");
    if (l->add_addr_accepted < -1 || l->add_addr_accepted > 255)
        FAIL(MPX_RPC_E_RANGE, "limits.add_addr_accepted");
    return MPX_RPC_OK;
}

static int check_opt(const void *b, const char **why)
{
    const struct mpx_rpc_opt *o = b;
    if (!has_nul(o->key, sizeof(o->key)))
        FAIL(MPX_RPC_E_STRING, "opt.key");
    if (!has_nul(o->value, sizeof(o->value)))
        FAIL(MPX_RPC_E_STRING, "opt.value");
    if (o->key[0] == '\0')
        FAIL(MPX_RPC_E_RANGE, "opt.key");
    return MPX_RPC_OK;
}

static int check_list_req(const void *b, const char **why)
{
    const struct mpx_rpc_list_req *r = b;
    if (r->flags & ~MPX_RPC_LIST_F_ALL)
        FAIL(MPX_RPC_E_RANGE, "list.flags");
    if (r->pad)
        FAIL(MPX_RPC_E_PAD, "list.pad");
    return MPX_RPC_OK;
}

static int check_conn_ref(const void *b, const char **why)
{
    const struct mpx_rpc_conn_ref *r = b;
    if (r->conn == 0)
        FAIL(MPX_RPC_E_RANGE, "conn");
    if (r->pad)
        FAIL(MPX_RPC_E_PAD, "conn_ref.pad");
    return MPX_RPC_OK;
}

static int check_sf(const struct mpx_rpc_sf *s, const char **why)
{
    int rc = check_addr(&s->local, false, why);
    if (rc)
        return rc;
    if ((rc = check_addr(&s->remote, false, why)))
        return rc;
    if (s->flags & ~MPX_RPC_SF_F_ALL)
        FAIL(MPX_RPC_E_RANGE, "sf.flags");
    if (s->state > 10)
        FAIL(MPX_RPC_E_RANGE, "sf.state");
    if (s->pad)
        FAIL(MPX_RPC_E_PAD, "sf.pad");
    return MPX_RPC_OK;
}

static int check_conn_info(const void *b, const char **why)
{
    const struct mpx_rpc_conn_info *c = b;
    int rc;
    if (c->flags & ~MPX_RPC_CONN_F_ALL)
        FAIL(MPX_RPC_E_RANGE, "conn.flags");
    if (c->key_state > MPX_RPC_KEY_STATE_MAX)
        FAIL(MPX_RPC_E_RANGE, "conn.key_state");
    if (c->extkey_policy > MPX_RPC_EXTKEY_MAX)
        FAIL(MPX_RPC_E_RANGE, "conn.extkey_policy");
    if (c->fin & ~MPX_RPC_CONN_FIN_ALL)
        FAIL(MPX_RPC_E_RANGE, "conn.fin");
    if (!zeros(c->pad2, sizeof(c->pad2)))
        FAIL(MPX_RPC_E_PAD, "conn.pad");
    if (!zeros(c->pad3, sizeof(c->pad3)))
        FAIL(MPX_RPC_E_PAD, "conn.pad3");
    if (!has_nul(c->cc, sizeof(c->cc)))
        FAIL(MPX_RPC_E_STRING, "conn.cc");
    if (c->opt_flags & ~MPX_RPC_OPT_F_ALL)
        FAIL(MPX_RPC_E_RANGE, "conn.opt_flags");
    if ((rc = check_addr(&c->local, true, why)) || (rc = check_addr(&c->remote, true, why)))
        return rc;
    for (unsigned i = 0; i < c->n_sf; i++)
        if ((rc = check_sf(&c->sf[i], why)))
            return rc;
    return MPX_RPC_OK;
}

static int check_counters(const void *b, const char **why)
{
    const struct mpx_rpc_counters *c = b;
    if (c->pad)
        FAIL(MPX_RPC_E_PAD, "counters.pad");
    for (uint32_t i = 0; i < c->n; i++) {
        if (!has_nul(c->c[i].name, sizeof(c->c[i].name)))
            FAIL(MPX_RPC_E_STRING, "counter.name");
        if (c->c[i].name[0] == '\0')
            FAIL(MPX_RPC_E_RANGE, "counter.name");
    }
    return MPX_RPC_OK;
}

static int check_event(const void *b, const char **why)
{
    const struct mpx_rpc_event *e = b;
    int rc;
    if (e->type == 0 || e->type > MPX_RPC_EV_LAST_)
        FAIL(MPX_RPC_E_RANGE, "event.type");
    if (e->backup > 1)
        FAIL(MPX_RPC_E_RANGE, "event.backup");
    if (e->pad)
        FAIL(MPX_RPC_E_PAD, "event.pad");
    if ((rc = check_addr(&e->saddr, true, why)) || (rc = check_addr(&e->daddr, true, why)))
        return rc;
    return MPX_RPC_OK;
}

static int check_psk(uint16_t len, const uint8_t *psk, uint8_t policy, const char **why)
{
    if (len != 0 && (len < 16 || len > MPX_RPC_PSK_MAX))
        FAIL(MPX_RPC_E_RANGE, "psk_len");
    if (!zeros(psk + len, MPX_RPC_PSK_MAX - len))
        FAIL(MPX_RPC_E_PAD, "psk tail");
    if (policy > MPX_RPC_EXTKEY_MAX)
        FAIL(MPX_RPC_E_RANGE, "extkey_policy");
    return MPX_RPC_OK;
}

static int check_connect(const void *b, const char **why)
{
    const struct mpx_rpc_connect *c = b;
    int rc;
    if (c->flags & ~MPX_RPC_CONNECT_F_ALL)
        FAIL(MPX_RPC_E_RANGE, "connect.flags");
    if (c->pad || c->pad2)
        FAIL(MPX_RPC_E_PAD, "connect.pad");
    if ((rc = check_psk(c->psk_len, c->psk, c->extkey_policy, why)))
        return rc;
    if ((rc = check_addr(&c->local, true, why)) || (rc = check_addr(&c->remote, false, why)))
        return rc;
    if (c->rport == 0)
        FAIL(MPX_RPC_E_RANGE, "connect.rport");
    if (c->local.family && c->local.family != c->remote.family)
        FAIL(MPX_RPC_E_RANGE, "connect.local.family");
    return MPX_RPC_OK;
}

static int check_conn_result(const void *b, const char **why)
{
    const struct mpx_rpc_conn_result *r = b;
    int rc;
    if (r->status > 0 || r->status < -4095)
        FAIL(MPX_RPC_E_RANGE, "result.status");
    if (r->pad)
        FAIL(MPX_RPC_E_PAD, "result.pad");
    if ((rc = check_addr(&r->local, true, why)) || (rc = check_addr(&r->remote, true, why)))
        return rc;
    return MPX_RPC_OK;
}

static int check_listen(const void *b, const char **why)
{
    const struct mpx_rpc_listen *l = b;
    int rc;
    if (l->flags)
        FAIL(MPX_RPC_E_RANGE, "listen.flags");
    if (l->pad || l->pad2)
        FAIL(MPX_RPC_E_PAD, "listen.pad");
    if ((rc = check_psk(l->psk_len, l->psk, l->extkey_policy, why)))
        return rc;
    if ((rc = check_addr(&l->local, true, why)))
        return rc;
    if (l->port == 0)
        FAIL(MPX_RPC_E_RANGE, "listen.port");
    return MPX_RPC_OK;
}

static int check_accept(const void *b, const char **why)
{
    const struct mpx_rpc_accept *a = b;
    if (a->flags & ~MPX_RPC_ACCEPT_F_ALL)
        FAIL(MPX_RPC_E_RANGE, "accept.flags");
    if (a->pad)
        FAIL(MPX_RPC_E_PAD, "accept.pad");
    if (a->port == 0)
        FAIL(MPX_RPC_E_RANGE, "accept.port");
    return MPX_RPC_OK;
}

static int check_sock(const void *b, const char **why)
{
    const struct mpx_rpc_sock *k = b;
    int rc;
    if (k->flags & ~MPX_RPC_SOCK_F_ALL)
        FAIL(MPX_RPC_E_RANGE, "sock.flags");
    if (k->pad)
        FAIL(MPX_RPC_E_PAD, "sock.pad");
    if (k->sock_id == 0)
        FAIL(MPX_RPC_E_RANGE, "sock.sock_id");
    if (k->family != 4 && k->family != 6)
        FAIL(MPX_RPC_E_RANGE, "sock.family");
    if (k->filler_len > MPX_RPC_FILLER_MAX)
        FAIL(MPX_RPC_E_RANGE, "sock.filler_len");
    if ((rc = check_psk(k->psk_len, k->psk, k->extkey_policy, why)))
        return rc;
    if ((rc = check_addr(&k->local, true, why)) || (rc = check_addr(&k->remote, true, why)))
        return rc;
    return MPX_RPC_OK;
}

static int check_conn_key(const void *b, const char **why)
{
    const struct mpx_rpc_conn_key *k = b;
    if (k->conn == 0)
        FAIL(MPX_RPC_E_RANGE, "conn");
    if (k->key_len < MPX_RPC_EXTKEY_LEN_MIN || k->key_len > MPX_RPC_EXTKEY_LEN_MAX)
        FAIL(MPX_RPC_E_RANGE, "key_len");
    if (k->flags)
        FAIL(MPX_RPC_E_RANGE, "key.flags");
    if (!zeros(k->key + k->key_len, sizeof(k->key) - k->key_len))
        FAIL(MPX_RPC_E_PAD, "key tail");
    return MPX_RPC_OK;
}

/* Linux's ranges for each option (net/ipv4/tcp.c do_tcp_setsockopt). */
static int check_setopt(const void *b, const char **why)
{
    static const struct {
        int32_t lo, hi;
    } range[] = {
        [MPX_RPC_SO_NODELAY] = {0, 1},
        [MPX_RPC_SO_CORK] = {0, 1},
        [MPX_RPC_SO_KEEPALIVE] = {0, 1},
        [MPX_RPC_SO_KEEPIDLE] = {1, 32767},
        [MPX_RPC_SO_KEEPINTVL] = {1, 32767},
        [MPX_RPC_SO_KEEPCNT] = {1, 127},
        [MPX_RPC_SO_USER_TIMEOUT] = {0, INT32_MAX},
        [MPX_RPC_SO_CONGESTION] = {0, 0},
        [MPX_RPC_SO_LINGER0] = {0, 1},
        [MPX_RPC_SO_TOS] = {0, 255},
        [MPX_RPC_SO_TTL] = {1, 255},
        [MPX_RPC_SO_SYNCNT] = {1, 127}, /* MAX_TCP_SYNCNT */
    };
    const struct mpx_rpc_setopt *o = b;
    if (o->conn == 0)
        FAIL(MPX_RPC_E_RANGE, "conn");
    if (o->flags & ~MPX_RPC_SETOPT_F_ALL)
        FAIL(MPX_RPC_E_RANGE, "setopt.flags");
    if (o->opt == 0 || o->opt > MPX_RPC_SO_LAST_)
        FAIL(MPX_RPC_E_RANGE, "setopt.opt");
    if (o->value < range[o->opt].lo || o->value > range[o->opt].hi)
        FAIL(MPX_RPC_E_RANGE, "setopt.value");
    if (!has_nul(o->name, sizeof(o->name)))
        FAIL(MPX_RPC_E_STRING, "setopt.name");
    if (o->opt == MPX_RPC_SO_CONGESTION ? o->name[0] == '\0' : !zeros(o->name, sizeof(o->name)))
        FAIL(MPX_RPC_E_RANGE, "setopt.name");
    return MPX_RPC_OK;
}

#define C MPX_RPC_TO_CLIENT
#define D MPX_RPC_TO_DAEMON
#define FIXED(nm, dir, type, fn)                                                                   \
    {                                                                                              \
        nm, dir, sizeof(type), 0, 0, 0, 0, 0, fn                                                   \
    }
#define EMPTY(nm)                                                                                  \
    {                                                                                              \
        nm, D, 0, 0, 0, 0, 0, 0, NULL                                                              \
    }

static const struct type_desc *desc(uint16_t type)
{
    static const struct type_desc replies[] = {
        [MPX_RPC_STATUS] = FIXED("STATUS", C, struct mpx_rpc_status, check_status),
        [MPX_RPC_END] = FIXED("END", C, struct mpx_rpc_status, check_status),
        [MPX_RPC_ENDP_LIST] = {"ENDP_LIST", C, offsetof(struct mpx_rpc_endp_list, e),
                               sizeof(struct mpx_rpc_endp), offsetof(struct mpx_rpc_endp_list, n),
                               MPX_RPC_ENDP_MAX, 0, 0, check_endp_list},
        [MPX_RPC_LIMITS] = FIXED("LIMITS", C, struct mpx_rpc_limits, check_limits),
        [MPX_RPC_OPT] = FIXED("OPT", C, struct mpx_rpc_opt, check_opt),
        /* n_sf is a uint8: its count is read specially in count_of(). */
        [MPX_RPC_CONN_INFO] = {"CONN_INFO", C, offsetof(struct mpx_rpc_conn_info, sf),
                               sizeof(struct mpx_rpc_sf), offsetof(struct mpx_rpc_conn_info, n_sf),
                               MPX_RPC_SF_MAX, 0, 0, check_conn_info},
        [MPX_RPC_COUNTERS] = {"COUNTERS", C, offsetof(struct mpx_rpc_counters, c),
                              sizeof(struct mpx_rpc_counter), offsetof(struct mpx_rpc_counters, n),
                              MPX_RPC_COUNTERS_MAX, 0, 0, check_counters},
        [MPX_RPC_EVENT] = FIXED("EVENT", C, struct mpx_rpc_event, check_event),
        [MPX_RPC_CONNECTED] = FIXED("CONNECTED", C, struct mpx_rpc_conn_result, check_conn_result),
        [MPX_RPC_ACCEPTED] = FIXED("ACCEPTED", C, struct mpx_rpc_conn_result, check_conn_result),
        [MPX_RPC_SOCK_RESULT] =
            FIXED("SOCK_RESULT", C, struct mpx_rpc_conn_result, check_conn_result),
    };
    static const struct type_desc requests[] = {
        [MPX_RPC_ENDP_ADD - 32] = FIXED("ENDP_ADD", D, struct mpx_rpc_endp, check_endp),
        [MPX_RPC_ENDP_DEL - 32] = FIXED("ENDP_DEL", D, struct mpx_rpc_endp, check_endp),
        [MPX_RPC_ENDP_CHANGE - 32] = FIXED("ENDP_CHANGE", D, struct mpx_rpc_endp, check_endp),
        [MPX_RPC_ENDP_FLUSH - 32] = EMPTY("ENDP_FLUSH"),
        [MPX_RPC_ENDP_SHOW - 32] = EMPTY("ENDP_SHOW"),
        [MPX_RPC_LIMITS_SET - 32] = FIXED("LIMITS_SET", D, struct mpx_rpc_limits, check_limits),
        [MPX_RPC_LIMITS_GET - 32] = EMPTY("LIMITS_GET"),
        [MPX_RPC_OPT_SET - 32] = FIXED("OPT_SET", D, struct mpx_rpc_opt, check_opt),
        [MPX_RPC_OPT_GET - 32] = FIXED("OPT_GET", D, struct mpx_rpc_opt, check_opt),
        [MPX_RPC_CONN_LIST - 32] = FIXED("CONN_LIST", D, struct mpx_rpc_list_req, check_list_req),
        [MPX_RPC_CONN_ABORT - 32] = FIXED("CONN_ABORT", D, struct mpx_rpc_conn_ref, check_conn_ref),
        [MPX_RPC_COUNTERS_GET - 32] =
            FIXED("COUNTERS_GET", D, struct mpx_rpc_list_req, check_list_req),
        [MPX_RPC_MONITOR - 32] = EMPTY("MONITOR"),
        [MPX_RPC_CONNECT - 32] = {"CONNECT", D, sizeof(struct mpx_rpc_connect), 0, 0, 0, 1, 1,
                                  check_connect},
        [MPX_RPC_LISTEN - 32] = {"LISTEN", D, sizeof(struct mpx_rpc_listen), 0, 0, 0, 0, 1,
                                 check_listen},
        [MPX_RPC_UNLISTEN - 32] = FIXED("UNLISTEN", D, struct mpx_rpc_listen, check_listen),
        [MPX_RPC_ACCEPT - 32] = {"ACCEPT", D, sizeof(struct mpx_rpc_accept), 0, 0, 0, 1, 1,
                                 check_accept},
        [MPX_RPC_CONN_GET - 32] = FIXED("CONN_GET", D, struct mpx_rpc_conn_ref, check_conn_ref),
        [MPX_RPC_CONN_SETKEY - 32] =
            FIXED("CONN_SETKEY", D, struct mpx_rpc_conn_key, check_conn_key),
        [MPX_RPC_CONN_ROTATE - 32] =
            FIXED("CONN_ROTATE", D, struct mpx_rpc_conn_ref, check_conn_ref),
        [MPX_RPC_CONN_FIND - 32] = FIXED("CONN_FIND", D, struct mpx_rpc_conn_find, NULL),
        [MPX_RPC_SOCK_BIND - 32] = FIXED("SOCK_BIND", D, struct mpx_rpc_sock, check_sock),
        [MPX_RPC_SOCK_CONNECT - 32] = {"SOCK_CONNECT", D, sizeof(struct mpx_rpc_sock), 0, 0, 0, 1,
                                       1, check_sock},
        [MPX_RPC_SOCK_LISTEN - 32] = FIXED("SOCK_LISTEN", D, struct mpx_rpc_sock, check_sock),
        [MPX_RPC_SOCK_GET - 32] = FIXED("SOCK_GET", D, struct mpx_rpc_sock, check_sock),
        [MPX_RPC_SOCK_CLOSE - 32] = FIXED("SOCK_CLOSE", D, struct mpx_rpc_sock, check_sock),
        [MPX_RPC_CONN_SETOPT - 32] = FIXED("CONN_SETOPT", D, struct mpx_rpc_setopt, check_setopt),
        [MPX_RPC_SOCK_CONNECT_NAMED - 32] =
            FIXED("SOCK_CONNECT_NAMED", D, struct mpx_rpc_sock, check_sock),
    };
    if (type >= 1 && type < MPX_RPC_REPLY_LAST_)
        return &replies[type];
    if (type >= 32 && type < MPX_RPC_REQUEST_LAST_)
        return &requests[type - 32];
    return NULL;
}

#undef C
#undef D

size_t mpx_rpc_body_size(uint16_t type, uint32_t n)
{
    const struct type_desc *d = desc(type);
    if (!d || (d->elem && n > d->max_n))
        return 0;
    return d->fixed + (d->elem ? n * d->elem : 0);
}

size_t mpx_rpc_encode(void *out, size_t cap, uint16_t type, uint32_t id, const void *body,
                      size_t body_len)
{
    const struct type_desc *d = desc(type);
    struct mpx_rpc_hdr h;
    size_t total = sizeof(h) + body_len;

    if (!d || total > cap || total > MPX_RPC_MSG_MAX)
        return 0;
    if (d->elem ? (body_len < d->fixed || (body_len - d->fixed) % d->elem) : body_len != d->fixed)
        return 0;
    h.magic = MPX_RPC_MAGIC;
    h.version = MPX_RPC_VERSION;
    h.type = type;
    h.length = (uint32_t)total;
    h.id = id;
    memcpy(out, &h, sizeof(h));
    if (body_len)
        memcpy((uint8_t *)out + sizeof(h), body, body_len);
    return total;
}

static uint32_t count_of(uint16_t type, const uint8_t *body, size_t off)
{
    uint32_t n;
    if (type == MPX_RPC_CONN_INFO)
        return body[off];
    memcpy(&n, body + off, sizeof(n));
    return n;
}

/* Length rules: fixed types exactly their size; variable types the fixed
 * part (which holds the count) plus exactly count elements. */
static int check_length(const struct type_desc *d, uint16_t type, const uint8_t *body, size_t blen,
                        const char **why)
{
    uint32_t n;
    if (!d->elem) {
        if (blen != d->fixed)
            FAIL(MPX_RPC_E_LENGTH, "body size");
        return MPX_RPC_OK;
    }
    if (blen < d->fixed)
        FAIL(MPX_RPC_E_LENGTH, "body size");
    n = count_of(type, body, d->count_off);
    if (n > d->max_n)
        FAIL(MPX_RPC_E_RANGE, "count");
    if (blen != d->fixed + (size_t)n * d->elem)
        FAIL(MPX_RPC_E_LENGTH, "body size vs count");
    return MPX_RPC_OK;
}

int mpx_rpc_decode(const void *msg, size_t len, int nfds, enum mpx_rpc_dir dir,
                   struct mpx_rpc_hdr *hdr, void *body, size_t body_cap, const char **why)
{
    const char *dummy;
    const struct type_desc *d;
    const uint8_t *b = (const uint8_t *)msg + sizeof(*hdr);
    size_t blen;
    int rc;

    if (!why)
        why = &dummy;
    *why = "";
    if (len > MPX_RPC_MSG_MAX)
        FAIL(MPX_RPC_E_TOOBIG, "length");
    if (len < sizeof(*hdr))
        FAIL(MPX_RPC_E_SHORT, "header");
    memcpy(hdr, msg, sizeof(*hdr));
    if (hdr->magic != MPX_RPC_MAGIC)
        FAIL(MPX_RPC_E_MAGIC, "magic");
    if (hdr->version != MPX_RPC_VERSION)
        FAIL(MPX_RPC_E_VERSION, "version");
    d = desc(hdr->type);
    if (!d || !d->name || d->dir != dir)
        FAIL(MPX_RPC_E_TYPE, "type");
    if (hdr->length != len)
        FAIL(MPX_RPC_E_LENGTH, "header length");
    blen = len - sizeof(*hdr);
    if ((rc = check_length(d, hdr->type, b, blen, why)))
        return rc;
    if (nfds < d->fds_min || nfds > d->fds_max)
        FAIL(MPX_RPC_E_FDS, "fds");
    if (blen > body_cap)
        FAIL(MPX_RPC_E_LENGTH, "body larger than the buffer");
    memset(body, 0, body_cap);
    if (blen)
        memcpy(body, b, blen);
    if (d->check && (rc = d->check(body, why)))
        return rc;
    return MPX_RPC_OK;
}

const char *mpx_rpc_type_name(uint16_t type)
{
    const struct type_desc *d = desc(type);
    return d && d->name ? d->name : "?";
}

const char *mpx_rpc_reject_name(int reject)
{
    static const char *const names[] = {"ok",     "short", "magic", "version", "type",   "length",
                                        "string", "range", "pad",   "fds",     "too big"};
    if (reject > 0 || -reject >= (int)(sizeof(names) / sizeof(names[0])))
        return "?";
    return names[-reject];
}

const char *mpx_rpc_event_name(uint32_t type)
{
    static const char *const names[] = {
        "?",         "CREATED",          "ESTABLISHED",    "CLOSED",
        "ANNOUNCED", "REMOVED",          "SF_ESTABLISHED", "SF_CLOSED",
        "FALLBACK",  "LISTENER_CREATED", "LISTENER_CLOSED"};
    if (type > MPX_RPC_EV_LAST_)
        return "?";
    return names[type];
}

/* ---- text helpers --------------------------------------------------------- */

int mpx_rpc_addr_parse(const char *s, struct mpx_rpc_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, s, out->a) == 1) {
        out->family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out->a) == 1) {
        out->family = 6;
        return 0;
    }
    memset(out, 0, sizeof(*out));
    return -EINVAL;
}

const char *mpx_rpc_addr_fmt(const struct mpx_rpc_addr *a, char *buf, size_t cap)
{
    if (a->family == 4)
        inet_ntop(AF_INET, a->a, buf, (socklen_t)cap);
    else if (a->family == 6)
        inet_ntop(AF_INET6, a->a, buf, (socklen_t)cap);
    else
        snprintf(buf, cap, "*");
    return buf;
}

static int parse_u(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return -EINVAL;
    errno = 0;
    *out = strtoul(s, &end, 0);
    if (errno || *end || *out > max)
        return -EINVAL;
    return 0;
}

static int flag_bit(const char *w)
{
    static const struct {
        const char *name;
        uint8_t bit;
    } flags[] = {{"signal", 0x01},
                 {"subflow", 0x02},
                 {"backup", 0x04},
                 {"fullmesh", 0x08},
                 {"laminar", 0x20}};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (!strcmp(w, flags[i].name))
            return flags[i].bit;
    return 0;
}

#define ERR(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errcap, __VA_ARGS__);                                                        \
        return -EINVAL;                                                                            \
    } while (0)

/* One keyword of an endpoint command; returns words consumed (1 or 2) or
 * -EINVAL. */
static int endp_word(enum mpx_rpc_endp_verb verb, char **argv, int left, bool resolve_dev,
                     struct mpx_rpc_endp *e, uint8_t *noflags, char *err, size_t errcap)
{
    const char *w = argv[0];
    unsigned long v;
    int bit;

    if (!strcmp(w, "id") || !strcmp(w, "port") || !strcmp(w, "dev")) {
        if (left < 2)
            ERR("\"%s\" needs an argument", w);
        if (!strcmp(w, "id")) {
            if (parse_u(argv[1], 255, &v) || v == 0)
                ERR("invalid id \"%s\" (1..255)", argv[1]);
            e->id = (uint8_t)v;
        } else if (!strcmp(w, "port")) {
            if (verb == MPX_RPC_ENDP_VERB_CHANGE)
                ERR("\"port\" cannot be changed");
            if (parse_u(argv[1], 65535, &v) || v == 0)
                ERR("invalid port \"%s\"", argv[1]);
            e->port = (uint16_t)v;
        } else {
            if (verb != MPX_RPC_ENDP_VERB_ADD)
                ERR("\"dev\" only with add");
            if (strlen(argv[1]) >= sizeof(e->ifname))
                ERR("device name too long \"%s\"", argv[1]);
            snprintf(e->ifname, sizeof(e->ifname), "%s", argv[1]);
            if (resolve_dev) {
                unsigned idx = if_nametoindex(argv[1]);
                if (!idx)
                    ERR("Cannot find device \"%s\"", argv[1]);
                e->ifindex = (int32_t)idx;
            }
        }
        return 2;
    }
    if (verb == MPX_RPC_ENDP_VERB_CHANGE && (!strcmp(w, "nobackup") || !strcmp(w, "nofullmesh"))) {
        *noflags |= (uint8_t)flag_bit(w + 2);
        return 1;
    }
    bit = flag_bit(w);
    if (bit && verb == MPX_RPC_ENDP_VERB_ADD) {
        e->flags |= (uint8_t)bit;
        return 1;
    }
    if (bit && verb == MPX_RPC_ENDP_VERB_CHANGE && (bit == 0x04 || bit == 0x08)) {
        e->flags |= (uint8_t)bit;
        return 1;
    }
    if (!e->addr.family && mpx_rpc_addr_parse(w, &e->addr) == 0)
        return 1;
    ERR("unexpected \"%s\"", w);
}

int mpx_rpc_endp_parse(enum mpx_rpc_endp_verb verb, int argc, char **argv, bool resolve_dev,
                       struct mpx_rpc_endp *out, char *err, size_t errcap)
{
    uint8_t noflags = 0;

    memset(out, 0, sizeof(*out));
    if (errcap)
        err[0] = '\0';
    for (int i = 0; i < argc;) {
        int n = endp_word(verb, argv + i, argc - i, resolve_dev, out, &noflags, err, errcap);
        if (n < 0)
            return n;
        i += n;
    }
    if (out->flags & noflags)
        ERR("contradicting flags");
    switch (verb) {
    case MPX_RPC_ENDP_VERB_ADD:
        if (!out->addr.family)
            ERR("address is required");
        break;
    case MPX_RPC_ENDP_VERB_DEL:
        if (!out->id && !out->addr.family)
            ERR("id or address is required");
        break;
    case MPX_RPC_ENDP_VERB_CHANGE:
        if (!out->id && !out->addr.family)
            ERR("id or address is required");
        break;
    }
    return 0;
}

void mpx_rpc_default_socket(char *buf, size_t cap, const char *name)
{
    struct stat self, st;
    DIR *d;
    struct dirent *de;
    char path[300];

    if (name && *name) {
        snprintf(buf, cap, "%s/%s.sock", MPX_RPC_SOCK_DIR, name);
        return;
    }
    snprintf(buf, cap, "%s/default.sock", MPX_RPC_SOCK_DIR);
    if (stat("/proc/self/ns/net", &self) || !(d = opendir("/run/netns")))
        return;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
        if (!stat(path, &st) && st.st_dev == self.st_dev && st.st_ino == self.st_ino) {
            snprintf(buf, cap, "%s/%s.sock", MPX_RPC_SOCK_DIR, de->d_name);
            break;
        }
    }
    closedir(d);
}

int mpx_rpc_errno(int e)
{
    switch (e) {
    case 0:
        return 0;
    case MPX_ERR_EXIST:
        return -EEXIST;
    case MPX_ERR_NOENT:
        return -ENOENT;
    case MPX_ERR_NOSPACE:
        return -ENOSPC;
    case MPX_ERR_NOBUF:
        return -ENOBUFS;
    case MPX_ERR_NOMEM:
        return -ENOMEM;
    case MPX_ERR_REFUSED:
        return -ECONNREFUSED;
    case MPX_ERR_TIMEDOUT:
        return -ETIMEDOUT;
    case MPX_ERR_RESET:
        return -ECONNRESET;
    case MPX_ERR_AGAIN:
        return -EAGAIN;
    case MPX_ERR_STATE:
    case MPX_ERR_CLOSED:
        return -ENOTCONN;
    case MPX_ERR_UNSUPP:
        return -EOPNOTSUPP;
    case MPX_ERR_HOSTUNREACH:
        return -EHOSTUNREACH;
    case MPX_ERR_NETUNREACH:
        return -ENETUNREACH;
    case MPX_ERR_ACCES:
        return -EACCES;
    case MPX_ERR_NOPROTOOPT:
        return -ENOPROTOOPT;
    case MPX_ERR_HOSTDOWN:
        return -EHOSTDOWN;
    case MPX_ERR_NONET:
        return -ENONET;
    case MPX_ERR_NETPROTO:
        return -EPROTO;
    default:
        return e > 0 ? 0 : -EINVAL;
    }
}

static int psk_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Hex (32..128 digits, trailing CR/LF ignored) or raw 16..64 bytes. */
static int psk_parse(const uint8_t *buf, size_t n, uint8_t *out)
{
    size_t l = n;
    bool hex = true;

    while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
        l--;
    for (size_t i = 0; i < l && hex; i++)
        hex = psk_hexval(buf[i]) >= 0;
    if (hex && l % 2 == 0 && l / 2 >= 16 && l / 2 <= MPX_RPC_PSK_MAX) {
        for (size_t i = 0; i < l / 2; i++)
            out[i] = (uint8_t)(psk_hexval(buf[2 * i]) << 4 | psk_hexval(buf[2 * i + 1]));
        return (int)(l / 2);
    }
    if (n < 16 || n > MPX_RPC_PSK_MAX)
        return -EINVAL;
    memcpy(out, buf, n);
    return (int)n;
}

int mpx_rpc_psk_read(const char *path, uint8_t out[MPX_RPC_PSK_MAX], char *err, size_t errcap)
{
    struct stat st;
    uint8_t buf[2 * MPX_RPC_PSK_MAX + 4];
    ssize_t n;
    int rc;
    /* O_NONBLOCK: a FIFO in its place must not hang the caller */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

    if (fd < 0 || fstat(fd, &st)) {
        rc = -errno;
        snprintf(err, errcap, "PSK file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errcap, "PSK file %s: not a regular file", path);
        return -EINVAL;
    }
    /* like ssh with private keys: a key others can read is not a secret */
    if (st.st_mode & 077) {
        close(fd);
        snprintf(err, errcap,
                 "PSK file %s is accessible by group/others (mode %04o); run chmod 600 %s", path,
                 (unsigned)(st.st_mode & 07777), path);
        return -EACCES;
    }
    n = read(fd, buf, sizeof(buf));
    rc = n < 0 ? -errno : 0;
    close(fd);
    if (n < 0) {
        snprintf(err, errcap, "PSK file %s: %s", path, strerror(-rc));
        return rc;
    }
    rc = psk_parse(buf, (size_t)n, out);
    explicit_bzero(buf, sizeof(buf));
    if (rc < 0)
        snprintf(err, errcap, "PSK file %s: expected 16..%d bytes (raw) or 32..%d hex digits", path,
                 MPX_RPC_PSK_MAX, 2 * MPX_RPC_PSK_MAX);
    return rc;
}

/* ---- accepted-connection names (the shim's accept) ------------------------ */

static size_t put_hex(char *o, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = hx[p[i] >> 4];
        o[2 * i + 1] = hx[p[i] & 15];
    }
    return 2 * n;
}

static int get_hex(const char *s, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < 2 * n; i++) {
        int c = s[i], v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else
            return -EINVAL;
        if (i % 2 == 0)
            p[i / 2] = (uint8_t)(v << 4);
        else
            p[i / 2] |= (uint8_t)v;
    }
    return 0;
}

static size_t put_ep(char *o, const struct mpx_rpc_addr *a, uint16_t port)
{
    uint8_t pb[2] = {(uint8_t)(port >> 8), (uint8_t)port};
    size_t n = 0;
    o[n++] = a->family == 6 ? '6' : '4';
    n += put_hex(o + n, a->a, a->family == 6 ? 16 : 4);
    n += put_hex(o + n, pb, 2);
    return n;
}

size_t mpx_rpc_acc_name(char *out, size_t cap, int lfamily, uint32_t conn,
                        const struct mpx_rpc_addr *peer, uint16_t pport,
                        const struct mpx_rpc_addr *local, uint16_t lport)
{
    char tmp[128];
    uint8_t cb[4] = {(uint8_t)(conn >> 24), (uint8_t)(conn >> 16), (uint8_t)(conn >> 8),
                     (uint8_t)conn};
    size_t n = strlen(MPX_RPC_ACC_PREFIX);

    memcpy(tmp, MPX_RPC_ACC_PREFIX, n);
    tmp[n++] = lfamily == 6 ? '6' : '4';
    n += put_hex(tmp + n, cb, 4);
    n += put_ep(tmp + n, peer, pport);
    n += put_ep(tmp + n, local, lport);
    if (n > cap)
        return 0;
    memcpy(out, tmp, n);
    return n;
}

static int get_ep(const char *s, size_t len, size_t *off, struct mpx_rpc_addr *a, uint16_t *port)
{
    uint8_t pb[2];
    size_t alen;
    if (*off >= len || (s[*off] != '4' && s[*off] != '6'))
        return -EINVAL;
    memset(a, 0, sizeof(*a));
    a->family = (uint8_t)(s[*off] - '0');
    alen = a->family == 6 ? 16 : 4;
    (*off)++;
    if (*off + 2 * alen + 4 > len || get_hex(s + *off, a->a, alen) ||
        get_hex(s + *off + 2 * alen, pb, 2))
        return -EINVAL;
    *off += 2 * alen + 4;
    *port = (uint16_t)(pb[0] << 8 | pb[1]);
    return 0;
}

int mpx_rpc_acc_parse(const char *name, size_t len, int *lfamily, uint32_t *conn,
                      struct mpx_rpc_addr *peer, uint16_t *pport, struct mpx_rpc_addr *local,
                      uint16_t *lport)
{
    size_t off = strlen(MPX_RPC_ACC_PREFIX);
    uint8_t cb[4];
    if (len < off + 9 || memcmp(name, MPX_RPC_ACC_PREFIX, off) ||
        (name[off] != '4' && name[off] != '6'))
        return -EINVAL;
    *lfamily = name[off] == '6' ? 6 : 4;
    off++;
    if (get_hex(name + off, cb, 4))
        return -EINVAL;
    off += 8;
    *conn = (uint32_t)cb[0] << 24 | (uint32_t)cb[1] << 16 | (uint32_t)cb[2] << 8 | cb[3];
    if (get_ep(name, len, &off, peer, pport) || get_ep(name, len, &off, local, lport))
        return -EINVAL;
    return off == len ? 0 : -EINVAL;
}
