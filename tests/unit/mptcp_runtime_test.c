/*
 * mptcp_runtime_test.c - the stack's run-time settings (mpx_stack_set_*):
 * like sysctls they apply to connections created afterwards, never to
 * running ones.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mpx_test.h"
#include "mptcp_b2b.h"

struct rt {
    struct b2b b;
    int syn_a[2]; /* MP_CAPABLE SYN (client) / SYN-ACK (server) with A set */
};

static size_t rt_hook(struct b2b *b, int from, uint8_t *p, size_t len)
{
    struct rt *t = (struct rt *)b;
    if (len < 40 || (p[0] >> 4) != 4 || !(p[33] & 0x02)) /* SYN only */
        return len;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4, doff = (size_t)(p[ihl + 12] >> 4) * 4;
    const uint8_t *o = p + ihl;
    for (size_t i = 20; i + 3 < doff && ihl + doff <= len;) {
        if (o[i] == 0)
            break;
        if (o[i] == 1 || o[i + 1] < 2) {
            i++;
            continue;
        }
        /* MP_CAPABLE (RFC 8684 section 3.1): flag A is the top bit */
        if (o[i] == 30 && (o[i + 2] >> 4) == 0 && (o[i + 3] & 0x80))
            t->syn_a[from]++;
        i += o[i + 1];
    }
    return len;
}

static struct rt *rt_new(uint64_t seed)
{
    struct rt *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    b2b_init(&t->b, seed, NULL, NULL);
    t->b.mangle = rt_hook;
    return t;
}

static void rt_free(struct rt *t)
{
    b2b_free(&t->b);
    free(t);
}

/* A connection to the server's port 80, established and accepted. */
static bool rt_conn(struct rt *t, long *cid, long *sid)
{
    *cid = mpx_stack_connect(t->b.st[0], NULL, &t->b.addr[1][0], 80, t->b.now);
    b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    *sid = mpx_stack_accept(t->b.st[1], 80);
    return *cid > 0 && *sid > 0;
}

static bool csum_of(struct rt *t, int k, long id)
{
    struct mpx_conn_info ci;
    return mpx_conn_get_info(t->b.st[k], (uint32_t)id, &ci) == 0 && ci.csum_enabled;
}

/* net.mptcp.checksum_enabled at run time, on either side: the next
 * connection's MP_CAPABLE carries A and DSS checksums are in use; the
 * running connection keeps what it negotiated. */
MPX_TEST(mptcp_runtime_checksum_new_conns_only)
{
    for (int side = 0; side < 2; side++) {
        struct rt *t = rt_new(300 + (uint64_t)side);
        REQUIRE(t);
        long c1, s1, c2, s2, c3, s3;
        REQUIRE(rt_conn(t, &c1, &s1));
        CHECK(!csum_of(t, 0, c1) && !csum_of(t, 1, s1));
        CHECK_INT(t->syn_a[side], 0);
        mpx_stack_set_checksum(t->b.st[side], true);
        CHECK(mpx_stack_get_config(t->b.st[side])->checksum);
        REQUIRE(rt_conn(t, &c2, &s2));
        CHECK(csum_of(t, 0, c2) && csum_of(t, 1, s2));
        CHECK_INT(t->syn_a[side], 1); /* our SYN / SYN-ACK asked for it */
        CHECK(!csum_of(t, 0, c1) && !csum_of(t, 1, s1));
        /* data flows with checksums */
        static uint8_t buf[50000], in[60000];
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)(i * 7);
        CHECK_INT(mpx_conn_send(t->b.st[0], (uint32_t)c2, buf, sizeof(buf), t->b.now),
                  (long)sizeof(buf));
        b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
        CHECK_INT(mpx_conn_recv(t->b.st[1], (uint32_t)s2, in, sizeof(in), t->b.now),
                  (long)sizeof(buf));
        CHECK_MEM(in, buf, sizeof(buf));
        mpx_stack_set_checksum(t->b.st[side], false);
        REQUIRE(rt_conn(t, &c3, &s3));
        CHECK(!csum_of(t, 0, c3) && !csum_of(t, 1, s3));
        CHECK(csum_of(t, 0, c2)); /* still */
        rt_free(t);
    }
}

/* Buffer sizes: bad values change nothing; good ones are the next
 * connections' (both ends of a setter's side), not the running ones'. */
MPX_TEST(mptcp_runtime_bufs_new_conns_only)
{
    struct rt *t = rt_new(310);
    REQUIRE(t);
    struct mpx_stack *c = t->b.st[0];
    long c1, s1, c2, s2;
    REQUIRE(rt_conn(t, &c1, &s1));
    static const uint32_t bad[][2] = {
        {MPX_STACK_BUF_MIN - 1, 0},
        {0, MPX_STACK_BUF_MIN - 1},
        {MPX_STACK_BUF_MAX + 1u, 65536},
        {65536, 0xffffffffu},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(mpx_stack_set_bufs(c, bad[i][0], bad[i][1]), MPX_ERR_INVAL);
    CHECK_EQ(mpx_stack_get_config(c)->sndbuf, 1u << 20);
    CHECK_EQ(mpx_stack_get_config(c)->rcvbuf, 1u << 20);
    CHECK_INT(mpx_stack_set_bufs(c, 32768, 0), 0); /* 0: unchanged */
    CHECK_INT(mpx_stack_set_bufs(c, 0, 65536), 0);
    CHECK_EQ(mpx_stack_get_config(c)->sndbuf, 32768);
    CHECK_EQ(mpx_stack_get_config(c)->rcvbuf, 65536);
    REQUIRE(rt_conn(t, &c2, &s2));
    uint32_t sb = 0, rb = 0;
    CHECK_INT(mpx_conn_get_bufs(c, (uint32_t)c1, &sb, &rb), 0);
    CHECK(sb == 1u << 20 && rb == 1u << 20);
    CHECK_INT(mpx_conn_get_bufs(c, (uint32_t)c2, &sb, &rb), 0);
    CHECK(sb == 32768 && rb == 65536);
    CHECK_INT(mpx_conn_get_bufs(t->b.st[1], (uint32_t)s2, &sb, &rb), 0);
    CHECK(sb == 1u << 20 && rb == 1u << 20); /* the other host's own */
    CHECK_INT(mpx_conn_get_bufs(c, 9999, &sb, &rb), MPX_ERR_NOENT);
    /* the send buffer takes no more than its size at once */
    static uint8_t buf[100000], in[100000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 11 + 3);
    long n = mpx_conn_send(c, (uint32_t)c2, buf, sizeof(buf), t->b.now);
    CHECK(n > 0 && n <= 32768);
    b2b_run(&t->b, t->b.now + MPX_NS_PER_S);
    CHECK_INT(mpx_conn_recv(t->b.st[1], (uint32_t)s2, in, sizeof(in), t->b.now), n);
    CHECK_MEM(in, buf, (size_t)n);
    rt_free(t);
}

/* The active side's policy: the next mpx_stack_connect offers E. */
MPX_TEST(mptcp_runtime_ext_policy_next_connect)
{
    struct rt *t = rt_new(320);
    REQUIRE(t);
    long c1, s1, c2, s2;
    REQUIRE(rt_conn(t, &c1, &s1));
    CHECK_EQ(mpx_stack_mib(t->b.st[0])->MPExtKeyOffered, 0);
    CHECK_INT(mpx_stack_set_ext_policy(t->b.st[0], MPX_EXT_PREFER), 0);
    CHECK_INT(mpx_stack_set_ext_policy(t->b.st[1], MPX_EXT_PREFER), 0);
    REQUIRE(rt_conn(t, &c2, &s2));
    CHECK_EQ(mpx_stack_mib(t->b.st[0])->MPExtKeyOffered, 1);
    struct mpx_conn_info ci;
    REQUIRE(mpx_conn_get_info(t->b.st[0], (uint32_t)c2, &ci) == 0);
    CHECK(ci.mptcp && ci.ext_keys);
    REQUIRE(mpx_conn_get_info(t->b.st[0], (uint32_t)c1, &ci) == 0);
    CHECK(ci.mptcp && !ci.ext_keys);
    rt_free(t);
}
