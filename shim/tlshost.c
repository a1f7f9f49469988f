/*
 * tlshost.c - the tlshooks host of libmptcpext.so (tlshooks/tlshooks.h),
 * the pre-shared key file, and the public key API (mptcpext.h).
 *
 * A TLS session belongs to us when its fd is a socket the shim manages
 * whose MPTCP connection runs in E mode (draft-baerts-tcpm-mptcpext-00
 * section 4.1) and has no key yet. The exporter context is then the two
 * MPTCP tokens, initiator first (DESIGN.md decision 6), as the engine
 * reports them (CONN_GET); the key goes to the engine with CONN_SETKEY,
 * which installs it and starts NEW_KEY. A connection that is not in E mode
 * (policy never, a peer without the extension, plain TCP fallback) is not
 * ours: tlshooks then exports nothing and the handshake goes on untouched.
 *
 * No fd (memory BIOs, custom transports: tlshooks asks with fd -1): the
 * engine finds the caller's connection whose client->server stream carries
 * the session's ClientHello random at bytes 11..42 (CONN_FIND,
 * notes/tlshooks.md section 4.1).
 *
 * The key is never logged and is erased from every buffer here once sent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mptcpext.h"
#include "shim_int.h"
#include "tlshooks.h"

_Static_assert(MPX_TLSH_RANDOM_LEN == MPX_RPC_RANDOM_LEN, "ClientHello random size");

/* The connection host_context accepted last on this thread: host_key
 * follows it on the same thread (tlshooks.h), also for fd -1. */
static __thread uint32_t tl_conn;

/* The connection id of a shim-managed, connected socket, else 0. */
static uint32_t fd_conn(int fd)
{
    struct mpx_shim_sock *s = fd >= 0 ? mpx_shim_sock_get(fd) : NULL;
    uint32_t conn = 0;
    if (!s)
        return 0;
    mpx_shim_sock_lock(s);
    if (s->state == MPX_SHIM_S_CONNECTED)
        conn = s->conn;
    mpx_shim_sock_unlock(s);
    return conn;
}

union reply {
    struct mpx_rpc_status st;
    struct mpx_rpc_conn_info ci;
};

/* The engine's view of a connection (CONN_GET by id, CONN_FIND by
 * ClientHello random): 0, or a negative errno. */
static int conn_ask(uint16_t type, const void *body, size_t len, struct mpx_rpc_conn_info *ci)
{
    union reply *r = malloc(sizeof(*r)); /* ~2 KB: not on small thread stacks */
    int t;
    if (!r)
        return -ENOMEM;
    t = mpx_shim_ctl_call(type, body, len, -1, r, sizeof(*r));
    if (t == MPX_RPC_CONN_INFO)
        *ci = r->ci;
    else if (t == MPX_RPC_STATUS)
        t = r->st.status < 0 ? r->st.status : -EIO;
    else if (t >= 0)
        t = -EIO;
    free(r);
    return t == MPX_RPC_CONN_INFO ? 0 : t;
}

/* A request answered by STATUS: its status, or a negative errno. */
static int ctl_status(uint16_t type, const void *body, size_t len)
{
    struct mpx_rpc_status st;
    int t = mpx_shim_ctl_call(type, body, len, -1, &st, sizeof(st));
    if (t < 0)
        return t;
    return t == MPX_RPC_STATUS ? st.status : -EIO;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int mpx_tlsh_host_context(int fd, const uint8_t client_random[MPX_TLSH_RANDOM_LEN],
                          uint8_t ctx[MPX_TLSH_CTX_LEN])
{
    struct mpx_rpc_conn_info *ci;
    struct mpx_rpc_conn_ref ref = {fd >= 0 ? fd_conn(fd) : 0, 0};
    struct mpx_rpc_conn_find find;
    uint32_t conn = ref.conn;
    bool server;
    int rc;

    if (fd >= 0 && !conn)
        return -1;
    ci = malloc(sizeof(*ci));
    if (!ci)
        return -1;
    if (fd >= 0) {
        rc = conn_ask(MPX_RPC_CONN_GET, &ref, sizeof(ref), ci);
    } else {
        memcpy(find.client_random, client_random, sizeof(find.client_random));
        rc = conn_ask(MPX_RPC_CONN_FIND, &find, sizeof(find), ci);
        conn = rc == 0 ? ci->conn : 0;
    }
    /* only a connection waiting for its first external key: not E mode
     * means RFC 8684 keys (or none), and a second TLS session on the same
     * connection (TLS in TLS, STARTTLS) keeps the first key */
    if (rc == 0 && ci->key_state != MPX_RPC_KEY_EXT_WAIT)
        rc = -EOPNOTSUPP;
    if (rc < 0) {
        mpx_shim_log(MPX_SHIM_LOG_DEBUG, "tls: fd %d conn %u: no export (%s)", fd, conn,
                     strerror(-rc));
        free(ci);
        return -1;
    }
    /* context = initiator token || responder token (DESIGN.md decision 6):
     * the initiator is the side that sent the SYN */
    server = ci->flags & MPX_RPC_CONN_F_SERVER;
    put_be32(ctx, server ? ci->remote_token : ci->local_token);
    put_be32(ctx + 4, server ? ci->local_token : ci->remote_token);
    free(ci);
    tl_conn = conn;
    return MPX_TLSH_CTX_LEN;
}

/* CONN_SETKEY: 0 or a negative errno. */
static int send_key(uint32_t conn, const void *key, size_t len)
{
    struct mpx_rpc_conn_key k;
    int rc;

    memset(&k, 0, sizeof(k));
    k.conn = conn;
    k.key_len = (uint16_t)len;
    memcpy(k.key, key, len);
    rc = ctl_status(MPX_RPC_CONN_SETKEY, &k, sizeof(k));
    explicit_bzero(&k, sizeof(k));
    return rc;
}

void mpx_tlsh_host_key(const struct mpx_tlsh_export *e)
{
    uint32_t conn = e->fd >= 0 ? fd_conn(e->fd) : tl_conn;
    int rc;

    tl_conn = 0;
    if (!conn || e->ctx_len != MPX_TLSH_CTX_LEN)
        return;
    rc = send_key(conn, e->key, sizeof(e->key));
    mpx_shim_log(rc ? MPX_SHIM_LOG_WARN : MPX_SHIM_LOG_DEBUG,
                 "tls: fd %d conn %u: %s TLS %s key (%s): %s", e->fd, conn,
                 e->lib == MPX_TLSH_LIB_OPENSSL ? "OpenSSL" : "GnuTLS",
                 e->tls_version == 0x0304   ? "1.3"
                 : e->tls_version == 0x0303 ? "1.2"
                                            : "?",
                 e->is_server == 1 ? "server" : "client", rc ? strerror(-rc) : "installed");
}

/* ---- pre-shared key (MPTCPEXT_PSK_FILE) ----------------------------------- */

static char psk_path[4096];
static pthread_once_t psk_once = PTHREAD_ONCE_INIT;
static uint8_t psk_key[MPX_RPC_PSK_MAX];
static int psk_rc;

/* The path is taken at load time: nginx and others scrub the environment
 * of the processes they fork. */
__attribute__((constructor)) static void tlshost_init(void)
{
    const char *p = getenv("MPTCPEXT_PSK_FILE");
    if (p && *p && strlen(p) < sizeof(psk_path))
        memcpy(psk_path, p, strlen(p) + 1);
    else if (p && *p)
        psk_rc = -ENAMETOOLONG;
}

static void psk_load(void)
{
    char err[4300];
    if (psk_rc == -ENAMETOOLONG)
        mpx_shim_log(MPX_SHIM_LOG_ERROR, "MPTCPEXT_PSK_FILE: path too long");
    if (psk_rc || !psk_path[0])
        return;
    psk_rc = mpx_rpc_psk_read(psk_path, psk_key, err, sizeof(err));
    if (psk_rc < 0)
        mpx_shim_log(MPX_SHIM_LOG_ERROR, "MPTCPEXT_PSK_FILE: %s", err);
}

int mpx_shim_psk(uint8_t out[MPX_RPC_PSK_MAX])
{
    pthread_once(&psk_once, psk_load);
    if (psk_rc > 0)
        memcpy(out, psk_key, (size_t)psk_rc);
    /* every failure is a permission problem for the caller's connect() or
     * listen(): a configured key that cannot be used must not silently
     * give an unauthenticated connection */
    return psk_rc < 0 ? -EACCES : psk_rc;
}

/* ---- public API (mptcpext.h) ---------------------------------------------- */

static int api_result(int rc)
{
    if (rc >= 0)
        return 0;
    errno = -rc;
    return -1;
}

/* The connection of |fd| for the API: its id, or a negative errno. */
static long api_conn(int fd)
{
    struct mpx_shim_sock *s = mpx_shim_sock_get(fd);
    long conn;
    if (!s)
        return -EBADF;
    mpx_shim_sock_lock(s);
    conn = s->state == MPX_SHIM_S_CONNECTED && s->conn ? (long)s->conn : -ENOTCONN;
    if (s->state == MPX_SHIM_S_LISTENING || s->state == MPX_SHIM_S_PASSTHROUGH)
        conn = -EBADF;
    mpx_shim_sock_unlock(s);
    return conn;
}

/* the engine says ENOENT for a connection it no longer has */
MPX_SHIM_EXPORT int mptcpext_set_key(int fd, const void *key, size_t len)
{
    long conn = api_conn(fd);
    if (conn < 0)
        return api_result((int)conn);
    if (!key || len < MPTCPEXT_KEY_MIN || len > MPTCPEXT_KEY_MAX)
        return api_result(-EINVAL);
    return api_result(send_key((uint32_t)conn, key, len));
}

MPX_SHIM_EXPORT int mptcpext_rotate_key(int fd)
{
    long conn = api_conn(fd);
    struct mpx_rpc_conn_ref ref;
    if (conn < 0)
        return api_result((int)conn);
    ref.conn = (uint32_t)conn;
    ref.pad = 0;
    return api_result(ctl_status(MPX_RPC_CONN_ROTATE, &ref, sizeof(ref)));
}
