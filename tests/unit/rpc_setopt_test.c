/*
 * rpc_setopt_test.c - CONN_SETOPT of the control protocol (rpc.h): the
 * shim's setsockopt forwarded to the engine. Linux's value ranges are
 * enforced by the decoder, so the daemon never sees a value the kernel
 * would refuse; the new conn_info fields are validated too.
 */
#include <errno.h>

#include "mpx_test.h"
#include "rpc.h"

static int decode_setopt(const struct mpx_rpc_setopt *o)
{
    uint8_t msg[MPX_RPC_MSG_MAX], body[MPX_RPC_BODY_MAX];
    struct mpx_rpc_hdr h;
    size_t n = mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_CONN_SETOPT, 7, o, sizeof(*o));
    if (!n)
        return 99;
    return mpx_rpc_decode(msg, n, 0, MPX_RPC_TO_DAEMON, &h, body, sizeof(body), NULL);
}

static struct mpx_rpc_setopt opt(uint32_t which, int32_t value)
{
    struct mpx_rpc_setopt o;
    memset(&o, 0, sizeof(o));
    o.conn = 3;
    o.opt = which;
    o.value = value;
    return o;
}

/* Every option at the edges of its Linux range, in and out. */
MPX_TEST(rpc_setopt_value_ranges)
{
    static const struct {
        uint32_t opt;
        int32_t value;
        int want;
    } t[] = {
        {MPX_RPC_SO_NODELAY, 0, MPX_RPC_OK},
        {MPX_RPC_SO_NODELAY, 1, MPX_RPC_OK},
        {MPX_RPC_SO_NODELAY, 2, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_CORK, -1, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_KEEPALIVE, 1, MPX_RPC_OK},
        {MPX_RPC_SO_KEEPIDLE, 0, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_KEEPIDLE, 1, MPX_RPC_OK},
        {MPX_RPC_SO_KEEPIDLE, 32767, MPX_RPC_OK},
        {MPX_RPC_SO_KEEPIDLE, 32768, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_KEEPINTVL, 32768, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_KEEPCNT, 127, MPX_RPC_OK},
        {MPX_RPC_SO_KEEPCNT, 128, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_USER_TIMEOUT, 0, MPX_RPC_OK},
        {MPX_RPC_SO_USER_TIMEOUT, INT32_MAX, MPX_RPC_OK},
        {MPX_RPC_SO_USER_TIMEOUT, -1, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_LINGER0, 1, MPX_RPC_OK},
        {MPX_RPC_SO_TOS, 255, MPX_RPC_OK},
        {MPX_RPC_SO_TOS, 256, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_TTL, 0, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_TTL, 1, MPX_RPC_OK},
        {MPX_RPC_SO_TTL, 255, MPX_RPC_OK},
        {MPX_RPC_SO_SYNCNT, 0, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_SYNCNT, 1, MPX_RPC_OK},
        {MPX_RPC_SO_SYNCNT, 127, MPX_RPC_OK},
        {MPX_RPC_SO_SYNCNT, 128, MPX_RPC_E_RANGE},
        {0, 0, MPX_RPC_E_RANGE},
        {MPX_RPC_SO_LAST_ + 1, 0, MPX_RPC_E_RANGE},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct mpx_rpc_setopt o = opt(t[i].opt, t[i].value);
        int rc = decode_setopt(&o);
        if (rc != t[i].want)
            printf("  opt %u value %d: %d, want %d\n", t[i].opt, t[i].value, rc, t[i].want);
        CHECK_INT(rc, t[i].want);
    }
}

/* The name is for TCP_CONGESTION only, NUL-terminated; conn 0, unknown
 * flags and truncations are malformed. */
MPX_TEST(rpc_setopt_name_conn_flags)
{
    struct mpx_rpc_setopt o = opt(MPX_RPC_SO_CONGESTION, 0);
    uint8_t msg[MPX_RPC_MSG_MAX], body[MPX_RPC_BODY_MAX];
    struct mpx_rpc_hdr h;
    size_t n;

    CHECK_INT(decode_setopt(&o), MPX_RPC_E_RANGE); /* empty name */
    snprintf(o.name, sizeof(o.name), "reno");
    CHECK_INT(decode_setopt(&o), MPX_RPC_OK);
    memset(o.name, 'x', sizeof(o.name));
    CHECK_INT(decode_setopt(&o), MPX_RPC_E_STRING);
    o = opt(MPX_RPC_SO_NODELAY, 1);
    o.name[3] = 'z';
    CHECK_INT(decode_setopt(&o), MPX_RPC_E_RANGE); /* a name where none belongs */
    o = opt(MPX_RPC_SO_NODELAY, 1);
    o.conn = 0;
    CHECK_INT(decode_setopt(&o), MPX_RPC_E_RANGE);
    o = opt(MPX_RPC_SO_NODELAY, 1);
    o.flags = MPX_RPC_SETOPT_F_REPLY;
    CHECK_INT(decode_setopt(&o), MPX_RPC_OK);
    o.flags = 0x2;
    CHECK_INT(decode_setopt(&o), MPX_RPC_E_RANGE);
    o = opt(MPX_RPC_SO_CORK, 1);
    n = mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_CONN_SETOPT, 1, &o, sizeof(o));
    REQUIRE(n > 0);
    for (size_t cut = 1; cut < sizeof(o); cut++)
        CHECK_INT(mpx_rpc_decode(msg, n - cut, 0, MPX_RPC_TO_DAEMON, &h, body, sizeof(body), NULL),
                  MPX_RPC_E_LENGTH);
    /* a request: never accepted by a client, never with a fd */
    CHECK_INT(mpx_rpc_decode(msg, n, 0, MPX_RPC_TO_CLIENT, &h, body, sizeof(body), NULL),
              MPX_RPC_E_TYPE);
    CHECK_INT(mpx_rpc_decode(msg, n, 1, MPX_RPC_TO_DAEMON, &h, body, sizeof(body), NULL),
              MPX_RPC_E_FDS);
    CHECK(!strcmp(mpx_rpc_type_name(MPX_RPC_CONN_SETOPT), "CONN_SETOPT"));
}

/* conn_info carries the options in force: cc must hold a NUL, the flags
 * and the padding are checked. */
MPX_TEST(rpc_setopt_conn_info_fields)
{
    struct mpx_rpc_conn_info ci;
    uint8_t msg[MPX_RPC_MSG_MAX], body[MPX_RPC_BODY_MAX];
    struct mpx_rpc_hdr h;
    size_t n;

    memset(&ci, 0, sizeof(ci));
    ci.conn = 1;
    snprintf(ci.cc, sizeof(ci.cc), "lia");
    ci.opt_flags = MPX_RPC_OPT_F_NODELAY | MPX_RPC_OPT_F_LINGER0;
    ci.keep_idle_s = 7200;
    n = mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_CONN_INFO, 1, &ci,
                       mpx_rpc_body_size(MPX_RPC_CONN_INFO, 0));
    REQUIRE(n > 0);
    CHECK_INT(mpx_rpc_decode(msg, n, 0, MPX_RPC_TO_CLIENT, &h, body, sizeof(body), NULL),
              MPX_RPC_OK);
    CHECK(!strcmp(((struct mpx_rpc_conn_info *)body)->cc, "lia"));
    ci.opt_flags = 0x100;
    n = mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_CONN_INFO, 1, &ci,
                       mpx_rpc_body_size(MPX_RPC_CONN_INFO, 0));
    CHECK_INT(mpx_rpc_decode(msg, n, 0, MPX_RPC_TO_CLIENT, &h, body, sizeof(body), NULL),
              MPX_RPC_E_RANGE);
    ci.opt_flags = 0;
    ci.pad3[2] = 1;
    n = mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_CONN_INFO, 1, &ci,
                       mpx_rpc_body_size(MPX_RPC_CONN_INFO, 0));
    CHECK_INT(mpx_rpc_decode(msg, n, 0, MPX_RPC_TO_CLIENT, &h, body, sizeof(body), NULL),
              MPX_RPC_E_PAD);
    ci.pad3[2] = 0;
    memset(ci.cc, 'c', sizeof(ci.cc));
    n = mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_CONN_INFO, 1, &ci,
                       mpx_rpc_body_size(MPX_RPC_CONN_INFO, 0));
    CHECK_INT(mpx_rpc_decode(msg, n, 0, MPX_RPC_TO_CLIENT, &h, body, sizeof(body), NULL),
              MPX_RPC_E_STRING);
}
