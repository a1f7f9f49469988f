/*
 * mptcp_listen_test.c - listeners: withdrawal (mpx_stack_unlisten) and the
 * per-listener external-key policy (mpx_stack_listen_ext, DESIGN decision
 * 5), on two stacks wired back to back.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mpx_test.h"
#include "mptcp_b2b.h"

/* Server port 81 has its own listener in these tests. */
#define LPORT 81

struct lt {
    struct b2b b;
    int mpc_from_server;      /* MP_CAPABLE options the server sent */
    int mpc_e_from_server;    /* ... of them in E form (flag E, 0x08) */
    int mpc_from_client;      /* MP_CAPABLE options the client sent */
    int key_bytes_server;     /* MP_CAPABLE carrying a 64-bit key (12/20/22/24) */
    enum mpx_ext_policy host; /* both stacks' default policy */
};

static void lt_cfg(int k, struct mpx_stack_config *cfg, void *arg)
{
    (void)k;
    cfg->ext_policy = ((struct lt *)arg)->host;
}

/* Counts the MP_CAPABLE options of each side from the raw bytes. */
static size_t lt_hook(struct b2b *b, int from, uint8_t *p, size_t len)
{
    struct lt *t = (struct lt *)b;
    if (len < 40 || (p[0] >> 4) != 4)
        return len;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4, doff = (size_t)(p[ihl + 12] >> 4) * 4;
    const uint8_t *o = p + ihl;
    for (size_t i = 20; i + 1 < doff && ihl + doff <= len;) {
        if (o[i] == 0)
            break;
        if (o[i] == 1 || o[i + 1] < 2) {
            i++;
            continue;
        }
        if (o[i] == 30 && o[i + 1] >= 4 && (o[i + 2] >> 4) == 0) {
            if (from == 1) {
                t->mpc_from_server++;
                t->mpc_e_from_server += (o[i + 3] & 0x08) != 0;
                t->key_bytes_server += !(o[i + 3] & 0x08) && o[i + 1] >= 12;
            } else {
                t->mpc_from_client++;
            }
        }
        i += o[i + 1];
    }
    return len;
}

static struct lt *lt_new(uint64_t seed, enum mpx_ext_policy host)
{
    struct lt *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->host = host;
    b2b_init(&t->b, seed, lt_cfg, t);
    t->b.mangle = lt_hook;
    return t;
}

static void lt_free(struct lt *t)
{
    b2b_free(&t->b);
    free(t);
}

/* Connect the client to LPORT with |policy|; run 1 s. */
static long lt_connect(struct lt *t, enum mpx_ext_policy policy)
{
    long cid = mpx_stack_connect_ext(t->b.st[0], NULL, &t->b.addr[1][0], LPORT, policy, t->b.now);
    if (cid > 0)
        b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    return cid;
}

/* 2000 bytes client -> server arrive intact. */
static bool lt_xfer(struct lt *t, long cid, long sid)
{
    uint8_t out[2000], in[4000];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 13 + 5);
    if (mpx_conn_send(t->b.st[0], (uint32_t)cid, out, sizeof(out), t->b.now) != sizeof(out))
        return false;
    b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    return mpx_conn_recv(t->b.st[1], (uint32_t)sid, in, sizeof(in), t->b.now) ==
               (long)sizeof(out) &&
           memcmp(in, out, sizeof(out)) == 0;
}

/* After unlisten a SYN is refused (RST: the client's connect fails with
 * MPX_ERR_REFUSED); a connection accepted before keeps working. */
MPX_TEST(mptcp_listen_unlisten_refuses_new_keeps_old)
{
    struct lt *t = lt_new(71, MPX_EXT_NEVER);
    REQUIRE(t);
    CHECK_INT(mpx_stack_listen(t->b.st[1], LPORT), 0);
    CHECK_INT(mpx_stack_listen(t->b.st[1], LPORT), MPX_ERR_EXIST);
    long cid = lt_connect(t, MPX_EXT_NEVER);
    long sid = mpx_stack_accept(t->b.st[1], LPORT);
    REQUIRE(cid > 0 && sid > 0);
    CHECK_INT(mpx_stack_unlisten(t->b.st[1], LPORT), 0);
    CHECK_INT(mpx_stack_unlisten(t->b.st[1], LPORT), MPX_ERR_NOENT);
    long cid2 = lt_connect(t, MPX_EXT_NEVER);
    REQUIRE(cid2 > 0);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(t->b.st[0], (uint32_t)cid2, &ci) == 0);
    CHECK(!ci.established);
    CHECK_INT(ci.error, MPX_ERR_REFUSED);
    CHECK(mpx_stack_accept(t->b.st[1], LPORT) <= 0);
    CHECK(lt_xfer(t, cid, sid)); /* the old one is untouched */
    /* the other listeners stay (port 80 from the harness) */
    long cid3 = mpx_stack_connect(t->b.st[0], NULL, &t->b.addr[1][0], 80, t->b.now);
    b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    CHECK(cid3 > 0 && mpx_stack_accept(t->b.st[1], 80) > 0);
    lt_free(t);
}

/* A require listener answers an RFC 8684 SYN without MP_CAPABLE: no key
 * of the server crosses the wire, the connection is plain TCP; an E SYN
 * is answered in E form. The host's own policy (never) does not matter. */
MPX_TEST(mptcp_listen_require_answers_plain)
{
    struct lt *t = lt_new(72, MPX_EXT_NEVER);
    REQUIRE(t);
    CHECK_INT(mpx_stack_listen_ext(t->b.st[1], LPORT, (enum mpx_ext_policy)9), MPX_ERR_INVAL);
    CHECK_INT(mpx_stack_listen_ext(t->b.st[1], LPORT, MPX_EXT_REQUIRE), 0);
    long cid = lt_connect(t, MPX_EXT_NEVER);
    long sid = mpx_stack_accept(t->b.st[1], LPORT);
    REQUIRE(cid > 0 && sid > 0);
    CHECK(lt_xfer(t, cid, sid));
    CHECK(t->mpc_from_client > 0);
    CHECK_INT(t->mpc_from_server, 0);
    struct mpx_conn_info ci, si;
    REQUIRE(mpx_conn_get_info(t->b.st[0], (uint32_t)cid, &ci) == 0);
    REQUIRE(mpx_conn_get_info(t->b.st[1], (uint32_t)sid, &si) == 0);
    CHECK(ci.fallback && si.fallback && !si.mptcp);
    CHECK_EQ(mpx_stack_mib(t->b.st[1])->MPExtKeyRequirePlain, 1);
    /* an E SYN to the same listener: E form, no key in clear */
    t->mpc_from_server = 0;
    cid = lt_connect(t, MPX_EXT_PREFER);
    sid = mpx_stack_accept(t->b.st[1], LPORT);
    REQUIRE(cid > 0 && sid > 0);
    REQUIRE(mpx_conn_get_info(t->b.st[1], (uint32_t)sid, &si) == 0);
    CHECK(si.mptcp && si.ext_keys);
    CHECK(t->mpc_e_from_server > 0);
    CHECK_INT(t->key_bytes_server, 0);
    lt_free(t);
}

/* Per listener beats the host default both ways: a never listener on a
 * prefer host answers an E SYN in RFC 8684 form (the client, prefer, goes
 * on with RFC 8684 keys); a prefer listener on a never host answers it in
 * E form. */
MPX_TEST(mptcp_listen_policy_per_listener)
{
    static const struct {
        enum mpx_ext_policy host, listener;
        bool e_mode;
    } rows[] = {
        {MPX_EXT_PREFER, MPX_EXT_NEVER, false},
        {MPX_EXT_NEVER, MPX_EXT_PREFER, true},
        {MPX_EXT_PREFER, MPX_EXT_PREFER, true},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        struct lt *t = lt_new(80 + r, rows[r].host);
        REQUIRE(t);
        CHECK_INT(mpx_stack_listen_ext(t->b.st[1], LPORT, rows[r].listener), 0);
        long cid = lt_connect(t, MPX_EXT_PREFER);
        long sid = mpx_stack_accept(t->b.st[1], LPORT);
        REQUIRE(cid > 0 && sid > 0);
        struct mpx_conn_info ci, si;
        REQUIRE(mpx_conn_get_info(t->b.st[0], (uint32_t)cid, &ci) == 0);
        REQUIRE(mpx_conn_get_info(t->b.st[1], (uint32_t)sid, &si) == 0);
        CHECK(ci.mptcp && si.mptcp);
        CHECK_INT(si.ext_keys, rows[r].e_mode);
        CHECK_INT(ci.ext_keys, rows[r].e_mode);
        CHECK_INT(t->mpc_e_from_server > 0, rows[r].e_mode);
        CHECK(lt_xfer(t, cid, sid));
        lt_free(t);
    }
}
