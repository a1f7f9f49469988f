/*
 * rpc_named_test.c - SOCK_CONNECT_NAMED (issue 7, shim connect rate): the
 * shim's connect when the app's socket has connected itself to the daemon's
 * data listener. It carries no fd (one is refused), is checked like
 * SOCK_CONNECT, and the listener's name fits an abstract sun_path for any
 * pid.
 */
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "mpx_test.h"
#include "rpc.h"

static int decode_named(const struct mpx_rpc_sock *k, int nfds)
{
    static uint8_t msg[MPX_RPC_MSG_MAX], out[MPX_RPC_BODY_MAX];
    struct mpx_rpc_hdr h;
    const char *why = "";
    size_t len = mpx_rpc_encode(msg, sizeof(msg), MPX_RPC_SOCK_CONNECT_NAMED, 5, k, sizeof(*k));
    if (!len)
        return 99;
    return mpx_rpc_decode(msg, len, nfds, MPX_RPC_TO_DAEMON, &h, out, sizeof(out), &why);
}

static void named_body(struct mpx_rpc_sock *k)
{
    memset(k, 0, sizeof(*k));
    k->sock_id = 0x00004d2000000003ull;
    k->family = 4;
    k->flags = MPX_RPC_SOCK_F_LATE_REPLY;
    k->remote.family = 4;
    k->remote.a[0] = 10;
    k->remote.a[3] = 2;
    k->rport = 5001;
    k->filler_len = 57344;
}

MPX_TEST(rpc_named_connect_takes_no_fd)
{
    struct mpx_rpc_sock k;

    named_body(&k);
    CHECK_INT(decode_named(&k, 0), MPX_RPC_OK);
    CHECK_INT(decode_named(&k, 1), MPX_RPC_E_FDS);
    CHECK(strcmp(mpx_rpc_type_name(MPX_RPC_SOCK_CONNECT_NAMED), "SOCK_CONNECT_NAMED") == 0);
    /* a request type, after every older one (their numbers stay) */
    CHECK(MPX_RPC_SOCK_CONNECT_NAMED > MPX_RPC_CONN_FIND);
    CHECK(MPX_RPC_SOCK_CONNECT_NAMED < MPX_RPC_REQUEST_LAST_);
}

MPX_TEST(rpc_named_connect_checked_like_sock_connect)
{
    static const struct {
        const char *what;
        int reject;
    } cases[] = {
        {"unknown flag", MPX_RPC_E_RANGE},
        {"sock_id 0", MPX_RPC_E_RANGE},
        {"family 5", MPX_RPC_E_RANGE},
        {"filler too long", MPX_RPC_E_RANGE},
        {"pad", MPX_RPC_E_PAD},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mpx_rpc_sock k;
        named_body(&k);
        switch (i) {
        case 0:
            k.flags |= (MPX_RPC_SOCK_F_ALL + 1);
            break;
        case 1:
            k.sock_id = 0;
            break;
        case 2:
            k.family = 5;
            break;
        case 3:
            k.filler_len = MPX_RPC_FILLER_MAX + 1;
            break;
        default:
            k.pad = 1;
            break;
        }
        CHECK_INT(decode_named(&k, 0), cases[i].reject);
    }
}

MPX_TEST(rpc_named_data_name_fits_sun_path)
{
    static const long pids[] = {1, 4194304, 2147483647};
    char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];

    for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
        /* abstract: one leading NUL, then the name */
        int n = snprintf(buf + 1, sizeof(buf) - 1, MPX_RPC_DATA_NAME_FMT, pids[i]);
        long back = 0;
        REQUIRE(n > 0 && (size_t)n < sizeof(buf) - 1);
        CHECK(strncmp(buf + 1, "mptcpext/d/", 11) == 0);
        CHECK_INT(sscanf(buf + 1, MPX_RPC_DATA_NAME_FMT, &back), 1);
        CHECK(back == pids[i]);
        /* never a name of the app's sockets or of accepted connections */
        CHECK(strncmp(buf + 1, MPX_RPC_SOCK_PREFIX, strlen(MPX_RPC_SOCK_PREFIX)) != 0);
        CHECK(strncmp(buf + 1, MPX_RPC_ACC_PREFIX, strlen(MPX_RPC_ACC_PREFIX)) != 0);
    }
}
