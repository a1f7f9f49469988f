/*
 * rpc_sock_test.c - the shim's part of the control protocol (issue 7):
 * SOCK_* requests and SOCK_RESULT round trips and rejections, and the
 * accepted-connection socket names (mpx_rpc_acc_name / mpx_rpc_acc_parse).
 */
#include <errno.h>
#include <string.h>

#include "mpx_test.h"
#include "rpc.h"

static void sock_body(struct mpx_rpc_sock *k)
{
    memset(k, 0, sizeof(*k));
    k->sock_id = 0x1234567800000001ull;
    k->family = 4;
    k->flags = MPX_RPC_SOCK_F_REUSEADDR;
    k->remote.family = 4;
    k->remote.a[0] = 10;
    k->rport = 80;
    k->filler_len = 57344;
}

static int decode(uint16_t type, const void *body, size_t blen, int nfds, const char **why)
{
    static uint8_t msg[MPX_RPC_MSG_MAX], out[MPX_RPC_BODY_MAX];
    struct mpx_rpc_hdr h;
    size_t len = mpx_rpc_encode(msg, sizeof(msg), type, 7, body, blen);
    if (!len)
        return 99;
    return mpx_rpc_decode(msg, len, nfds, type < 32 ? MPX_RPC_TO_CLIENT : MPX_RPC_TO_DAEMON, &h,
                          out, sizeof(out), why);
}

MPX_TEST(rpc_sock_roundtrip_every_type)
{
    static const uint16_t types[] = {MPX_RPC_SOCK_BIND, MPX_RPC_SOCK_CONNECT, MPX_RPC_SOCK_LISTEN,
                                     MPX_RPC_SOCK_GET, MPX_RPC_SOCK_CLOSE};
    struct mpx_rpc_sock k;
    struct mpx_rpc_conn_result r;
    const char *why = "";

    sock_body(&k);
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        int nfds = types[i] == MPX_RPC_SOCK_CONNECT ? 1 : 0;
        CHECK_INT(decode(types[i], &k, sizeof(k), nfds, &why), MPX_RPC_OK);
        /* SOCK_CONNECT needs its fd, the others take none */
        CHECK_INT(decode(types[i], &k, sizeof(k), 1 - nfds, &why), MPX_RPC_E_FDS);
        CHECK(strncmp(mpx_rpc_type_name(types[i]), "SOCK_", 5) == 0);
    }
    memset(&r, 0, sizeof(r));
    r.status = -EINPROGRESS;
    r.conn = 3;
    CHECK_INT(decode(MPX_RPC_SOCK_RESULT, &r, sizeof(r), 0, &why), MPX_RPC_OK);
    CHECK(strcmp(mpx_rpc_type_name(MPX_RPC_SOCK_RESULT), "SOCK_RESULT") == 0);
}

MPX_TEST(rpc_sock_rejects_bad_fields)
{
    static const struct {
        const char *what;
        int field, reject;
    } cases[] = {
        {"flags", 0, MPX_RPC_E_RANGE},   {"pad", 1, MPX_RPC_E_PAD},
        {"sock_id", 2, MPX_RPC_E_RANGE}, {"family", 3, MPX_RPC_E_RANGE},
        {"filler", 4, MPX_RPC_E_RANGE},  {"psk_len", 5, MPX_RPC_E_RANGE},
        {"psk tail", 6, MPX_RPC_E_PAD},  {"address", 7, MPX_RPC_E_RANGE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mpx_rpc_sock k;
        const char *why = "";
        sock_body(&k);
        switch (cases[i].field) {
        case 0:
            k.flags = 0x80;
            break;
        case 1:
            k.pad = 1;
            break;
        case 2:
            k.sock_id = 0;
            break;
        case 3:
            k.family = 5;
            break;
        case 4:
            k.filler_len = MPX_RPC_FILLER_MAX + 1;
            break;
        case 5:
            k.psk_len = 8;
            break;
        case 6:
            k.psk[10] = 1;
            break;
        default:
            k.remote.family = 9;
            break;
        }
        int rc = decode(MPX_RPC_SOCK_BIND, &k, sizeof(k), 0, &why);
        if (rc != cases[i].reject)
            printf("  case %s: %s (%s)\n", cases[i].what, mpx_rpc_reject_name(rc), why);
        CHECK_INT(rc, cases[i].reject);
    }
}

MPX_TEST(rpc_sock_acc_name_roundtrip)
{
    struct mpx_rpc_addr peer, local, p2, l2;
    uint16_t pp, lp;
    uint32_t conn;
    int lfam;
    char name[108];
    size_t n;

    /* IPv6 peer and local: the longest name still fits sun_path */
    memset(&peer, 0, sizeof(peer));
    memset(&local, 0, sizeof(local));
    peer.family = local.family = 6;
    for (int i = 0; i < 16; i++) {
        peer.a[i] = (uint8_t)(0xf0 + i);
        local.a[i] = (uint8_t)i;
    }
    n = mpx_rpc_acc_name(name, sizeof(name) - 1, 6, 0xdeadbeef, &peer, 443, &local, 65535);
    REQUIRE(n > 0 && n <= 107);
    CHECK(strncmp(name, MPX_RPC_ACC_PREFIX, strlen(MPX_RPC_ACC_PREFIX)) == 0);
    CHECK_INT(mpx_rpc_acc_parse(name, n, &lfam, &conn, &p2, &pp, &l2, &lp), 0);
    CHECK_INT(lfam, 6);
    CHECK_EQ(conn, 0xdeadbeefu);
    CHECK_MEM(&p2, &peer, sizeof(peer));
    CHECK_MEM(&l2, &local, sizeof(local));
    CHECK_EQ(pp, 443);
    CHECK_EQ(lp, 65535);
    /* IPv4 peer on a dual-stack listener */
    memset(&peer, 0, sizeof(peer));
    peer.family = 4;
    peer.a[0] = 10;
    peer.a[3] = 7;
    n = mpx_rpc_acc_name(name, sizeof(name), 6, 1, &peer, 40000, &peer, 80);
    REQUIRE(n > 0);
    CHECK_INT(mpx_rpc_acc_parse(name, n, &lfam, &conn, &p2, &pp, &l2, &lp), 0);
    CHECK_EQ(p2.family, 4);
    CHECK_MEM(&p2, &peer, sizeof(peer));
    /* too small a buffer */
    CHECK_EQ(mpx_rpc_acc_name(name, 20, 4, 1, &peer, 1, &peer, 2), 0);
}

MPX_TEST(rpc_sock_acc_parse_rejects_garbage)
{
    static const char *const bad[] = {
        "",
        "mptcpext/s/4/0000000000000001",
        "mptcpext/a/4000000014",
        "mptcpext/a/x00000001"
        "40a000007"
        "9c40"
        "40a000007"
        "0050",
        "mptcpext/a/400000001"
        "40a000007"
        "9c40"
        "40a000007"
        "005",
        "mptcpext/a/400000001"
        "40a000007"
        "9c40"
        "40a000007"
        "0050"
        "0",
        "mptcpext/a/400000001"
        "40A000007"
        "9c40"
        "40a000007"
        "0050",
        "mptcpext/a/400000001"
        "50a000007"
        "9c40"
        "40a000007"
        "0050",
    };
    struct mpx_rpc_addr p, l;
    uint16_t pp, lp;
    uint32_t conn;
    int lfam;
    const char *good = "mptcpext/a/400000001"
                       "40a000007"
                       "9c40"
                       "40a000007"
                       "0050";

    CHECK_INT(mpx_rpc_acc_parse(good, strlen(good), &lfam, &conn, &p, &pp, &l, &lp), 0);
    CHECK_EQ(pp, 40000);
    CHECK_EQ(lp, 80);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = mpx_rpc_acc_parse(bad[i], strlen(bad[i]), &lfam, &conn, &p, &pp, &l, &lp);
        if (rc != -EINVAL)
            printf("  accepted: %s\n", bad[i]);
        CHECK_INT(rc, -EINVAL);
    }
}
