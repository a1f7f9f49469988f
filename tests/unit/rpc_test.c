/*
 * rpc_test.c - the control protocol (userstack/rpc.h): round trips of every
 * message type, every truncation rejected, a table of malformed messages,
 * and the `ip mptcp endpoint` argument parser.
 */
#include <errno.h>
#include <stdlib.h>

#include "mpx_test.h"
#include "rpc.h"

static void v4(struct mpx_rpc_addr *a, uint8_t x)
{
    memset(a, 0, sizeof(*a));
    a->family = 4;
    a->a[0] = 10;
    a->a[3] = x;
}

/* A valid body of |type| into |b|; returns its size. Variable types get two
 * elements. */
static size_t sample(uint16_t type, uint8_t *b)
{
    memset(b, 0, MPX_RPC_BODY_MAX);
    switch (type) {
    case MPX_RPC_STATUS:
    case MPX_RPC_END: {
        struct mpx_rpc_status *s = (void *)b;
        s->status = -ECONNREFUSED;
        snprintf(s->msg, sizeof(s->msg), "refused");
        return sizeof(*s);
    }
    case MPX_RPC_ENDP_LIST: {
        struct mpx_rpc_endp_list *l = (void *)b;
        l->n = 2;
        v4(&l->e[0].addr, 1);
        l->e[0].id = 1;
        l->e[0].flags = 0x02;
        v4(&l->e[1].addr, 2);
        l->e[1].id = 2;
        l->e[1].flags = 0x01;
        l->e[1].port = 1234;
        snprintf(l->e[1].ifname, sizeof(l->e[1].ifname), "eth0");
        return mpx_rpc_body_size(type, 2);
    }
    case MPX_RPC_LIMITS:
    case MPX_RPC_LIMITS_SET: {
        struct mpx_rpc_limits *l = (void *)b;
        l->subflows = 3;
        l->add_addr_accepted = -1;
        return sizeof(*l);
    }
    case MPX_RPC_OPT:
    case MPX_RPC_OPT_SET:
    case MPX_RPC_OPT_GET: {
        struct mpx_rpc_opt *o = (void *)b;
        snprintf(o->key, sizeof(o->key), "scheduler");
        snprintf(o->value, sizeof(o->value), "redundant");
        return sizeof(*o);
    }
    case MPX_RPC_CONN_INFO: {
        struct mpx_rpc_conn_info *c = (void *)b;
        c->conn = 7;
        c->flags = MPX_RPC_CONN_F_MPTCP | MPX_RPC_CONN_F_ESTABLISHED;
        c->key_state = MPX_RPC_KEY_RFC8684;
        v4(&c->local, 2);
        v4(&c->remote, 9);
        c->lport = 40000;
        c->rport = 80;
        c->n_sf = 2;
        for (int i = 0; i < 2; i++) {
            v4(&c->sf[i].local, (uint8_t)(2 + i));
            v4(&c->sf[i].remote, 9);
            c->sf[i].state = 1;
            c->sf[i].flags = MPX_RPC_SF_F_ESTABLISHED;
            c->sf[i].bytes_sent = 1000u * (unsigned)(i + 1);
        }
        return mpx_rpc_body_size(type, 2);
    }
    case MPX_RPC_COUNTERS: {
        struct mpx_rpc_counters *c = (void *)b;
        c->n = 2;
        snprintf(c->c[0].name, sizeof(c->c[0].name), "MPTcpExtMPCapableSYNRX");
        c->c[0].value = 3;
        snprintf(c->c[1].name, sizeof(c->c[1].name), "TcpActiveOpens");
        c->c[1].value = 5;
        return mpx_rpc_body_size(type, 2);
    }
    case MPX_RPC_EVENT: {
        struct mpx_rpc_event *e = (void *)b;
        e->type = MPX_RPC_EV_SF_ESTABLISHED;
        e->conn = 3;
        v4(&e->saddr, 2);
        v4(&e->daddr, 9);
        e->sport = 1;
        e->dport = 2;
        e->backup = 1;
        return sizeof(*e);
    }
    case MPX_RPC_CONNECTED:
    case MPX_RPC_ACCEPTED: {
        struct mpx_rpc_conn_result *r = (void *)b;
        r->conn = 4;
        v4(&r->local, 2);
        v4(&r->remote, 9);
        r->lport = 1000;
        r->rport = 2000;
        return sizeof(*r);
    }
    case MPX_RPC_ENDP_ADD:
    case MPX_RPC_ENDP_DEL:
    case MPX_RPC_ENDP_CHANGE: {
        struct mpx_rpc_endp *e = (void *)b;
        v4(&e->addr, 5);
        e->id = 4;
        e->flags = 0x05;
        return sizeof(*e);
    }
    case MPX_RPC_CONN_LIST:
    case MPX_RPC_COUNTERS_GET: {
        struct mpx_rpc_list_req *r = (void *)b;
        r->flags = MPX_RPC_LIST_F_ZEROS;
        return sizeof(*r);
    }
    case MPX_RPC_CONN_ABORT:
    case MPX_RPC_CONN_GET: {
        struct mpx_rpc_conn_ref *r = (void *)b;
        r->conn = 12;
        return sizeof(*r);
    }
    case MPX_RPC_CONNECT: {
        struct mpx_rpc_connect *c = (void *)b;
        c->flags = MPX_RPC_CONNECT_F_ASYNC;
        c->extkey_policy = MPX_RPC_EXTKEY_REQUIRE;
        c->psk_len = 32;
        memset(c->psk, 0xab, 32);
        v4(&c->remote, 9);
        c->rport = 443;
        return sizeof(*c);
    }
    case MPX_RPC_LISTEN:
    case MPX_RPC_UNLISTEN: {
        struct mpx_rpc_listen *l = (void *)b;
        l->port = 5201;
        l->backlog = 16;
        return sizeof(*l);
    }
    case MPX_RPC_ACCEPT: {
        struct mpx_rpc_accept *a = (void *)b;
        a->port = 5201;
        a->flags = MPX_RPC_ACCEPT_F_NONBLOCK;
        return sizeof(*a);
    }
    default: /* empty requests */
        return 0;
    }
}

static enum mpx_rpc_dir dir_of(uint16_t type)
{
    return type < 32 ? MPX_RPC_TO_CLIENT : MPX_RPC_TO_DAEMON;
}

static int fds_of(uint16_t type)
{
    return type == MPX_RPC_CONNECT || type == MPX_RPC_ACCEPT ? 1 : 0;
}

static uint16_t all_types[] = {
    MPX_RPC_STATUS,      MPX_RPC_END,          MPX_RPC_ENDP_LIST, MPX_RPC_LIMITS,
    MPX_RPC_OPT,         MPX_RPC_CONN_INFO,    MPX_RPC_COUNTERS,  MPX_RPC_EVENT,
    MPX_RPC_CONNECTED,   MPX_RPC_ACCEPTED,     MPX_RPC_ENDP_ADD,  MPX_RPC_ENDP_DEL,
    MPX_RPC_ENDP_CHANGE, MPX_RPC_ENDP_FLUSH,   MPX_RPC_ENDP_SHOW, MPX_RPC_LIMITS_SET,
    MPX_RPC_LIMITS_GET,  MPX_RPC_OPT_SET,      MPX_RPC_OPT_GET,   MPX_RPC_CONN_LIST,
    MPX_RPC_CONN_ABORT,  MPX_RPC_COUNTERS_GET, MPX_RPC_MONITOR,   MPX_RPC_CONNECT,
    MPX_RPC_LISTEN,      MPX_RPC_UNLISTEN,     MPX_RPC_ACCEPT,    MPX_RPC_CONN_GET,
};
#define N_TYPES (sizeof(all_types) / sizeof(all_types[0]))

MPX_TEST(rpc_roundtrip_every_type)
{
    static uint8_t body[MPX_RPC_BODY_MAX], out[MPX_RPC_BODY_MAX + 64];
    static uint8_t msg[MPX_RPC_MSG_MAX];
    for (size_t i = 0; i < N_TYPES; i++) {
        uint16_t t = all_types[i];
        size_t blen = sample(t, body);
        size_t len = mpx_rpc_encode(msg, sizeof(msg), t, 1000 + (uint32_t)i, body, blen);
        struct mpx_rpc_hdr h;
        const char *why = NULL;
        int rc;

        REQUIRE(len == sizeof(h) + blen);
        memset(out, 0xee, sizeof(out));
        rc = mpx_rpc_decode(msg, len, fds_of(t), dir_of(t), &h, out, sizeof(out), &why);
        if (rc != MPX_RPC_OK)
            printf("  type %s: %s (%s)\n", mpx_rpc_type_name(t), mpx_rpc_reject_name(rc), why);
        CHECK_INT(rc, MPX_RPC_OK);
        CHECK_EQ(h.type, t);
        CHECK_EQ(h.id, 1000 + i);
        CHECK_EQ(h.length, len);
        CHECK_MEM(out, body, blen);
        /* the rest of the buffer is zeroed, never left stale */
        CHECK(blen == sizeof(out) || out[blen] == 0);
        CHECK(strcmp(mpx_rpc_type_name(t), "?") != 0);
    }
}

MPX_TEST(rpc_encode_refuses_bad_sizes)
{
    uint8_t msg[MPX_RPC_MSG_MAX], body[MPX_RPC_BODY_MAX];
    size_t blen = sample(MPX_RPC_EVENT, body);
    CHECK_EQ(mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_EVENT, 1, body, blen - 1), 0);
    CHECK_EQ(mpx_rpc_encode(msg, blen, MPX_RPC_EVENT, 1, body, blen), 0); /* no room for hdr */
    CHECK_EQ(mpx_rpc_encode(msg, sizeof(msg), 999, 1, body, 0), 0);
    /* variable type: fixed part + a partial element */
    CHECK_EQ(mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_COUNTERS, 1, body, 8 + 10), 0);
    CHECK_EQ(mpx_rpc_body_size(MPX_RPC_COUNTERS, MPX_RPC_COUNTERS_MAX + 1), 0);
}

/* Every prefix of every valid message is rejected, both with the header's
 * length left as it was and with it patched to the truncated size. */
MPX_TEST(rpc_every_truncation_rejected)
{
    static uint8_t body[MPX_RPC_BODY_MAX], out[MPX_RPC_BODY_MAX];
    static uint8_t msg[MPX_RPC_MSG_MAX];
    unsigned checked = 0;
    for (size_t i = 0; i < N_TYPES; i++) {
        uint16_t t = all_types[i];
        size_t blen = sample(t, body);
        size_t len = mpx_rpc_encode(msg, sizeof(msg), t, 1, body, blen);
        for (size_t cut = 0; cut < len; cut++) {
            struct mpx_rpc_hdr h;
            uint32_t l32 = (uint32_t)cut;
            int rc = mpx_rpc_decode(msg, cut, fds_of(t), dir_of(t), &h, out, sizeof(out), NULL);
            CHECK(rc != MPX_RPC_OK);
            if (cut >= sizeof(h)) {
                uint8_t copy[MPX_RPC_MSG_MAX];
                memcpy(copy, msg, cut);
                memcpy(copy + offsetof(struct mpx_rpc_hdr, length), &l32, 4);
                rc = mpx_rpc_decode(copy, cut, fds_of(t), dir_of(t), &h, out, sizeof(out), NULL);
                CHECK(rc != MPX_RPC_OK);
            }
            checked++;
        }
    }
    CHECK(checked > 2000); /* every byte position of 27 messages */
}

/* A malformed-message table: start from a valid sample, apply one change,
 * expect one reject code. */
struct bad_case {
    const char *name;
    uint16_t type;
    int nfds;
    int expect;
    void (*mutate)(uint8_t *msg, size_t *len);
};

static uint8_t *bodyp(uint8_t *msg)
{
    return msg + sizeof(struct mpx_rpc_hdr);
}

static void set_len(uint8_t *msg, size_t len)
{
    uint32_t l = (uint32_t)len;
    memcpy(msg + offsetof(struct mpx_rpc_hdr, length), &l, 4);
}

static void m_magic(uint8_t *m, size_t *l)
{
    (void)l;
    m[0] ^= 1;
}
static void m_version(uint8_t *m, size_t *l)
{
    (void)l;
    uint16_t v = 2;
    memcpy(m + offsetof(struct mpx_rpc_hdr, version), &v, 2);
}
static void m_type_unknown(uint8_t *m, size_t *l)
{
    (void)l;
    uint16_t v = 77;
    memcpy(m + offsetof(struct mpx_rpc_hdr, type), &v, 2);
}
static void m_type_reply_to_daemon(uint8_t *m, size_t *l)
{
    (void)l;
    uint16_t v = MPX_RPC_STATUS;
    memcpy(m + offsetof(struct mpx_rpc_hdr, type), &v, 2);
}
static void m_type_gap(uint8_t *m, size_t *l)
{
    (void)l;
    uint16_t v = MPX_RPC_REPLY_LAST_;
    memcpy(m + offsetof(struct mpx_rpc_hdr, type), &v, 2);
}
static void m_len_hdr_bigger(uint8_t *m, size_t *l)
{
    set_len(m, *l + 1);
}
static void m_len_extra_byte(uint8_t *m, size_t *l)
{
    m[*l] = 0;
    *l += 1;
    set_len(m, *l);
}
static void m_toobig(uint8_t *m, size_t *l)
{
    *l = MPX_RPC_MSG_MAX + 1;
    set_len(m, *l);
}
static void m_status_msg_unterminated(uint8_t *m, size_t *l)
{
    (void)l;
    struct mpx_rpc_status *s = (void *)bodyp(m);
    memset(s->msg, 'x', sizeof(s->msg));
}
static void m_status_positive(uint8_t *m, size_t *l)
{
    (void)l;
    int32_t v = 5;
    memcpy(bodyp(m) + offsetof(struct mpx_rpc_status, status), &v, 4);
}
static void m_opt_key_unterminated(uint8_t *m, size_t *l)
{
    (void)l;
    memset(bodyp(m) + offsetof(struct mpx_rpc_opt, key), 'k', MPX_RPC_KEY_MAX);
}
static void m_opt_value_unterminated(uint8_t *m, size_t *l)
{
    (void)l;
    memset(bodyp(m) + offsetof(struct mpx_rpc_opt, value), 'v', MPX_RPC_VALUE_MAX);
}
static void m_opt_key_empty(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_opt, key)] = 0;
}
static void m_endp_ifname(uint8_t *m, size_t *l)
{
    (void)l;
    memset(bodyp(m) + offsetof(struct mpx_rpc_endp, ifname), 'e', MPX_RPC_IFNAME_MAX);
}
static void m_endp_flags(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_endp, flags)] = 0x40;
}
static void m_endp_family(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_endp, addr)] = 5;
}
static void m_endp_v4_tail(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_endp, addr) + offsetof(struct mpx_rpc_addr, a) + 9] = 1;
}
static void m_endp_addr_pad(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_endp, addr) + 1] = 1;
}
static void m_endp_ifindex(uint8_t *m, size_t *l)
{
    (void)l;
    int32_t v = -3;
    memcpy(bodyp(m) + offsetof(struct mpx_rpc_endp, ifindex), &v, 4);
}
static void m_limits_range(uint8_t *m, size_t *l)
{
    (void)l;
    int32_t v = -2;
    memcpy(bodyp(m), &v, 4);
}
static void m_counters_n_big(uint8_t *m, size_t *l)
{
    (void)l;
    uint32_t v = MPX_RPC_COUNTERS_MAX + 1;
    memcpy(bodyp(m), &v, 4);
}
static void m_counters_n_vs_len(uint8_t *m, size_t *l)
{
    (void)l;
    uint32_t v = 3;
    memcpy(bodyp(m), &v, 4);
}
static void m_counter_name(uint8_t *m, size_t *l)
{
    (void)l;
    memset(bodyp(m) + offsetof(struct mpx_rpc_counters, c), 'n', MPX_RPC_COUNTER_NAME_MAX);
}
static void m_conn_info_nsf(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_conn_info, n_sf)] = MPX_RPC_SF_MAX + 1;
}
static void m_conn_info_key_state(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_conn_info, key_state)] = 9;
}
static void m_conn_info_sf_flags(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_conn_info, sf) + offsetof(struct mpx_rpc_sf, flags)] = 0x80;
}
static void m_event_type(uint8_t *m, size_t *l)
{
    (void)l;
    uint32_t v = 0;
    memcpy(bodyp(m) + offsetof(struct mpx_rpc_event, type), &v, 4);
}
static void m_event_backup(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_event, backup)] = 2;
}
static void m_connect_rport(uint8_t *m, size_t *l)
{
    (void)l;
    memset(bodyp(m) + offsetof(struct mpx_rpc_connect, rport), 0, 2);
}
static void m_connect_psk_len(uint8_t *m, size_t *l)
{
    (void)l;
    uint16_t v = 10;
    memcpy(bodyp(m) + offsetof(struct mpx_rpc_connect, psk_len), &v, 2);
}
static void m_connect_psk_tail(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_connect, psk) + 40] = 1;
}
static void m_connect_policy(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_connect, extkey_policy)] = 4;
}
static void m_connect_flags(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_connect, flags)] = 0x80;
}
static void m_connect_remote_none(uint8_t *m, size_t *l)
{
    (void)l;
    memset(bodyp(m) + offsetof(struct mpx_rpc_connect, remote), 0, sizeof(struct mpx_rpc_addr));
}
static void m_connect_family_mismatch(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_connect, local)] = 6;
}
static void m_connect_pad(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[offsetof(struct mpx_rpc_connect, pad2)] = 1;
}
static void m_listen_port(uint8_t *m, size_t *l)
{
    (void)l;
    memset(bodyp(m) + offsetof(struct mpx_rpc_listen, port), 0, 2);
}
static void m_abort_conn0(uint8_t *m, size_t *l)
{
    (void)l;
    memset(bodyp(m), 0, 4);
}
static void m_list_flags(uint8_t *m, size_t *l)
{
    (void)l;
    bodyp(m)[0] = 0x10;
}
static void m_none(uint8_t *m, size_t *l)
{
    (void)m;
    (void)l;
}

static const struct bad_case bad_cases[] = {
    {"bad magic", MPX_RPC_ENDP_SHOW, 0, MPX_RPC_E_MAGIC, m_magic},
    {"bad version", MPX_RPC_ENDP_SHOW, 0, MPX_RPC_E_VERSION, m_version},
    {"unknown type", MPX_RPC_ENDP_SHOW, 0, MPX_RPC_E_TYPE, m_type_unknown},
    {"reply sent to the daemon", MPX_RPC_ENDP_SHOW, 0, MPX_RPC_E_TYPE, m_type_reply_to_daemon},
    {"type in the gap", MPX_RPC_ENDP_SHOW, 0, MPX_RPC_E_TYPE, m_type_gap},
    {"hdr length > datagram", MPX_RPC_ENDP_SHOW, 0, MPX_RPC_E_LENGTH, m_len_hdr_bigger},
    {"trailing byte", MPX_RPC_LIMITS_SET, 0, MPX_RPC_E_LENGTH, m_len_extra_byte},
    {"empty request with a byte", MPX_RPC_MONITOR, 0, MPX_RPC_E_LENGTH, m_len_extra_byte},
    {"too big", MPX_RPC_ENDP_SHOW, 0, MPX_RPC_E_TOOBIG, m_toobig},
    {"status msg unterminated", MPX_RPC_STATUS, 0, MPX_RPC_E_STRING, m_status_msg_unterminated},
    {"status positive", MPX_RPC_STATUS, 0, MPX_RPC_E_RANGE, m_status_positive},
    {"opt key unterminated", MPX_RPC_OPT_SET, 0, MPX_RPC_E_STRING, m_opt_key_unterminated},
    {"opt value unterminated", MPX_RPC_OPT_SET, 0, MPX_RPC_E_STRING, m_opt_value_unterminated},
    {"opt key empty", MPX_RPC_OPT_GET, 0, MPX_RPC_E_RANGE, m_opt_key_empty},
    {"endp ifname unterminated", MPX_RPC_ENDP_ADD, 0, MPX_RPC_E_STRING, m_endp_ifname},
    {"endp flags", MPX_RPC_ENDP_ADD, 0, MPX_RPC_E_RANGE, m_endp_flags},
    {"endp family 5", MPX_RPC_ENDP_DEL, 0, MPX_RPC_E_RANGE, m_endp_family},
    {"endp v4 with v6 bytes", MPX_RPC_ENDP_CHANGE, 0, MPX_RPC_E_RANGE, m_endp_v4_tail},
    {"endp addr pad", MPX_RPC_ENDP_ADD, 0, MPX_RPC_E_PAD, m_endp_addr_pad},
    {"endp ifindex negative", MPX_RPC_ENDP_ADD, 0, MPX_RPC_E_RANGE, m_endp_ifindex},
    {"limits -2", MPX_RPC_LIMITS_SET, 0, MPX_RPC_E_RANGE, m_limits_range},
    {"counters n > max", MPX_RPC_COUNTERS, 0, MPX_RPC_E_RANGE, m_counters_n_big},
    {"counters n vs length", MPX_RPC_COUNTERS, 0, MPX_RPC_E_LENGTH, m_counters_n_vs_len},
    {"counter name unterminated", MPX_RPC_COUNTERS, 0, MPX_RPC_E_STRING, m_counter_name},
    {"conn info n_sf > max", MPX_RPC_CONN_INFO, 0, MPX_RPC_E_RANGE, m_conn_info_nsf},
    {"conn info key state", MPX_RPC_CONN_INFO, 0, MPX_RPC_E_RANGE, m_conn_info_key_state},
    {"conn info sf flags", MPX_RPC_CONN_INFO, 0, MPX_RPC_E_RANGE, m_conn_info_sf_flags},
    {"event type 0", MPX_RPC_EVENT, 0, MPX_RPC_E_RANGE, m_event_type},
    {"event backup 2", MPX_RPC_EVENT, 0, MPX_RPC_E_RANGE, m_event_backup},
    {"connect rport 0", MPX_RPC_CONNECT, 1, MPX_RPC_E_RANGE, m_connect_rport},
    {"connect psk_len 10", MPX_RPC_CONNECT, 1, MPX_RPC_E_RANGE, m_connect_psk_len},
    {"connect psk tail", MPX_RPC_CONNECT, 1, MPX_RPC_E_PAD, m_connect_psk_tail},
    {"connect policy 4", MPX_RPC_CONNECT, 1, MPX_RPC_E_RANGE, m_connect_policy},
    {"connect flags", MPX_RPC_CONNECT, 1, MPX_RPC_E_RANGE, m_connect_flags},
    {"connect without remote", MPX_RPC_CONNECT, 1, MPX_RPC_E_RANGE, m_connect_remote_none},
    {"connect family mismatch", MPX_RPC_CONNECT, 1, MPX_RPC_E_RANGE, m_connect_family_mismatch},
    {"connect pad", MPX_RPC_CONNECT, 1, MPX_RPC_E_PAD, m_connect_pad},
    {"connect without fd", MPX_RPC_CONNECT, 0, MPX_RPC_E_FDS, m_none},
    {"connect with 2 fds", MPX_RPC_CONNECT, 2, MPX_RPC_E_FDS, m_none},
    {"accept without fd", MPX_RPC_ACCEPT, 0, MPX_RPC_E_FDS, m_none},
    {"show with a fd", MPX_RPC_ENDP_SHOW, 1, MPX_RPC_E_FDS, m_none},
    {"listen port 0", MPX_RPC_LISTEN, 0, MPX_RPC_E_RANGE, m_listen_port},
    {"abort conn 0", MPX_RPC_CONN_ABORT, 0, MPX_RPC_E_RANGE, m_abort_conn0},
    {"list flags", MPX_RPC_CONN_LIST, 0, MPX_RPC_E_RANGE, m_list_flags},
};

MPX_TEST(rpc_malformed_table)
{
    static uint8_t body[MPX_RPC_BODY_MAX], out[MPX_RPC_BODY_MAX];
    static uint8_t msg[MPX_RPC_MSG_MAX + 64];
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        size_t blen = sample(bc->type, body);
        size_t len = mpx_rpc_encode(msg, sizeof(msg), bc->type, 1, body, blen);
        struct mpx_rpc_hdr h;
        const char *why = NULL;
        int rc;

        REQUIRE(len > 0);
        /* the unmutated message is good (with the right fd count) */
        CHECK_INT(mpx_rpc_decode(msg, len, fds_of(bc->type), dir_of(bc->type), &h, out, sizeof(out),
                                 NULL),
                  MPX_RPC_OK);
        bc->mutate(msg, &len);
        rc = mpx_rpc_decode(msg, len, bc->nfds, dir_of(bc->type), &h, out, sizeof(out), &why);
        if (rc != bc->expect)
            printf("  case \"%s\": got %s (%s)\n", bc->name, mpx_rpc_reject_name(rc), why);
        CHECK_INT(rc, bc->expect);
        CHECK(why && *why);
    }
}

MPX_TEST(rpc_short_and_direction)
{
    uint8_t msg[64], out[64];
    struct mpx_rpc_hdr h;
    size_t len = mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_ENDP_SHOW, 9, NULL, 0);
    CHECK_INT(mpx_rpc_decode(msg, 3, 0, MPX_RPC_TO_DAEMON, &h, out, sizeof(out), NULL),
              MPX_RPC_E_SHORT);
    /* a request arriving at a client is as bad as a reply at the daemon */
    CHECK_INT(mpx_rpc_decode(msg, len, 0, MPX_RPC_TO_CLIENT, &h, out, sizeof(out), NULL),
              MPX_RPC_E_TYPE);
    CHECK_INT(mpx_rpc_decode(msg, len, 0, MPX_RPC_TO_DAEMON, &h, out, sizeof(out), NULL),
              MPX_RPC_OK);
    CHECK_EQ(h.id, 9);
}

struct endp_case {
    int verb;
    const char *args;
    int rc;
    const char *err; /* expected message, or expected fields below */
    uint8_t id, flags;
    uint16_t port;
    const char *addr;
};

static const struct endp_case endp_cases[] = {
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 subflow", 0, "", 0, 0x02, 0, "10.0.0.1"},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 id 5 signal backup port 1234", 0, "", 5, 0x05, 1234,
     "10.0.0.1"},
    {MPX_RPC_ENDP_VERB_ADD, "fd00::2 subflow fullmesh", 0, "", 0, 0x0a, 0, "fd00::2"},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 laminar", 0, "", 0, 0x20, 0, "10.0.0.1"},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 dev lo subflow", 0, "", 0, 0x02, 0, "10.0.0.1"},
    {MPX_RPC_ENDP_VERB_ADD, "subflow", -EINVAL, "address is required"},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 id 0", -EINVAL, "invalid id \"0\" (1..255)"},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 id 256", -EINVAL, "invalid id \"256\" (1..255)"},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 id", -EINVAL, "\"id\" needs an argument"},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 port 70000", -EINVAL, "invalid port \"70000\""},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 bogus", -EINVAL, "unexpected \"bogus\""},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 10.0.0.2", -EINVAL, "unexpected \"10.0.0.2\""},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 dev nosuchdev0", -EINVAL,
     "Cannot find device \"nosuchdev0\""},
    {MPX_RPC_ENDP_VERB_ADD, "10.0.0.1 nobackup", -EINVAL, "unexpected \"nobackup\""},
    {MPX_RPC_ENDP_VERB_DEL, "id 3", 0, "", 3, 0, 0, NULL},
    {MPX_RPC_ENDP_VERB_DEL, "10.0.0.1 port 99", 0, "", 0, 0, 99, "10.0.0.1"},
    {MPX_RPC_ENDP_VERB_DEL, "", -EINVAL, "id or address is required"},
    {MPX_RPC_ENDP_VERB_DEL, "id 3 signal", -EINVAL, "unexpected \"signal\""},
    {MPX_RPC_ENDP_VERB_DEL, "id 3 dev lo", -EINVAL, "\"dev\" only with add"},
    {MPX_RPC_ENDP_VERB_CHANGE, "id 1 backup", 0, "", 1, 0x04, 0, NULL},
    {MPX_RPC_ENDP_VERB_CHANGE, "10.0.0.1 nobackup fullmesh", 0, "", 0, 0x08, 0, "10.0.0.1"},
    {MPX_RPC_ENDP_VERB_CHANGE, "id 1 signal", -EINVAL, "unexpected \"signal\""},
    {MPX_RPC_ENDP_VERB_CHANGE, "id 1 backup nobackup", -EINVAL, "contradicting flags"},
    {MPX_RPC_ENDP_VERB_CHANGE, "id 1 port 5", -EINVAL, "\"port\" cannot be changed"},
};

MPX_TEST(rpc_endp_parse_table)
{
    for (size_t i = 0; i < sizeof(endp_cases) / sizeof(endp_cases[0]); i++) {
        const struct endp_case *c = &endp_cases[i];
        char buf[128], *argv[16], *save = NULL, err[128];
        int argc = 0, rc;
        struct mpx_rpc_endp e;

        snprintf(buf, sizeof(buf), "%s", c->args);
        for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
            argv[argc++] = w;
        rc = mpx_rpc_endp_parse(c->verb, argc, argv, true, &e, err, sizeof(err));
        if (rc != c->rc || strcmp(err, c->err))
            printf("  case \"%s\": rc %d err \"%s\"\n", c->args, rc, err);
        CHECK_INT(rc, c->rc);
        CHECK(strcmp(err, c->err) == 0);
        if (rc == 0) {
            struct mpx_rpc_addr a;
            CHECK_EQ(e.id, c->id);
            CHECK_EQ(e.flags, c->flags);
            CHECK_EQ(e.port, c->port);
            if (c->addr) {
                REQUIRE(mpx_rpc_addr_parse(c->addr, &a) == 0);
                CHECK_MEM(&e.addr, &a, sizeof(a));
            } else {
                CHECK_EQ(e.addr.family, 0);
            }
        }
    }
}

MPX_TEST(rpc_addr_parse_fmt)
{
    struct mpx_rpc_addr a;
    char buf[64];
    CHECK_INT(mpx_rpc_addr_parse("10.1.2.3", &a), 0);
    CHECK_EQ(a.family, 4);
    CHECK(strcmp(mpx_rpc_addr_fmt(&a, buf, sizeof(buf)), "10.1.2.3") == 0);
    CHECK_INT(mpx_rpc_addr_parse("fd00:1:129::2", &a), 0);
    CHECK_EQ(a.family, 6);
    CHECK(strcmp(mpx_rpc_addr_fmt(&a, buf, sizeof(buf)), "fd00:1:129::2") == 0);
    CHECK_INT(mpx_rpc_addr_parse("10.1.2", &a), -EINVAL);
    CHECK_INT(mpx_rpc_addr_parse("", &a), -EINVAL);
    CHECK_EQ(a.family, 0);
}
