/*
 * rpc_late_test.c - MPX_RPC_SOCK_F_LATE_REPLY (issue 7, shim connect rate):
 * the flag of a blocking connect's SOCK_CONNECT passes the decoder, every
 * other flag bit still fails it, and the one late SOCK_RESULT (status 0 with
 * the connection id and local address, or -errno) decodes for the client.
 */
#include <errno.h>
#include <string.h>

#include "mpx_test.h"
#include "rpc.h"

static int decode_as(uint16_t type, const void *body, size_t blen, int nfds, int dir, void *out,
                     size_t cap)
{
    static uint8_t msg[MPX_RPC_MSG_MAX];
    struct mpx_rpc_hdr h;
    const char *why = "";
    size_t len = mpx_rpc_encode(msg, sizeof(msg), type, 9, body, blen);
    if (!len)
        return 99;
    return mpx_rpc_decode(msg, len, nfds, dir, &h, out, cap, &why);
}

static void connect_body(struct mpx_rpc_sock *k, uint32_t flags)
{
    memset(k, 0, sizeof(*k));
    k->sock_id = 0x0000123400000007ull;
    k->family = 4;
    k->flags = flags;
    k->remote.family = 4;
    k->remote.a[0] = 10;
    k->remote.a[3] = 2;
    k->rport = 5001;
    k->filler_len = 57344;
}

MPX_TEST(rpc_late_flag_accepted_other_bits_rejected)
{
    static uint8_t out[MPX_RPC_BODY_MAX];
    struct mpx_rpc_sock k;

    CHECK_INT(MPX_RPC_SOCK_F_LATE_REPLY &
                  (MPX_RPC_SOCK_F_REUSEADDR | MPX_RPC_SOCK_F_REUSEPORT | MPX_RPC_SOCK_F_V6ONLY |
                   MPX_RPC_SOCK_F_FREEBIND | MPX_RPC_SOCK_F_TAKE_ERR),
              0);
    CHECK(MPX_RPC_SOCK_F_ALL & MPX_RPC_SOCK_F_LATE_REPLY);
    connect_body(&k, MPX_RPC_SOCK_F_LATE_REPLY);
    CHECK_INT(
        decode_as(MPX_RPC_SOCK_CONNECT, &k, sizeof(k), 1, MPX_RPC_TO_DAEMON, out, sizeof(out)),
        MPX_RPC_OK);
    CHECK_INT(((const struct mpx_rpc_sock *)out)->flags, MPX_RPC_SOCK_F_LATE_REPLY);
    /* every bit above the known ones is still refused */
    for (uint32_t bit = MPX_RPC_SOCK_F_ALL + 1; bit; bit <<= 1) {
        connect_body(&k, MPX_RPC_SOCK_F_LATE_REPLY | bit);
        CHECK_INT(
            decode_as(MPX_RPC_SOCK_CONNECT, &k, sizeof(k), 1, MPX_RPC_TO_DAEMON, out, sizeof(out)),
            MPX_RPC_E_RANGE);
    }
}

MPX_TEST(rpc_late_result_decodes_both_outcomes)
{
    static const int32_t status[] = {0, -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH, -ECONNABORTED};
    static uint8_t out[MPX_RPC_BODY_MAX];

    for (size_t i = 0; i < sizeof(status) / sizeof(status[0]); i++) {
        struct mpx_rpc_conn_result r;
        const struct mpx_rpc_conn_result *got = (const void *)out;
        memset(&r, 0, sizeof(r));
        r.status = status[i];
        r.conn = status[i] ? 0 : 42;
        if (!status[i]) {
            r.local.family = 4;
            r.local.a[0] = 10;
            r.lport = 40001;
        }
        CHECK_INT(
            decode_as(MPX_RPC_SOCK_RESULT, &r, sizeof(r), 0, MPX_RPC_TO_CLIENT, out, sizeof(out)),
            MPX_RPC_OK);
        CHECK_INT(got->status, status[i]);
        CHECK_INT(got->conn, status[i] ? 0 : 42);
        CHECK_INT(got->lport, status[i] ? 0 : 40001);
    }
}
