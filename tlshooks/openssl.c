/*
 * tlshooks for OpenSSL 3 (libssl.so.3), found at run time: this file uses
 * OpenSSL's headers for the prototypes but never links libssl/libcrypto.
 *
 * Two mechanisms (notes/tlshooks.md §0, §3):
 * - primary: an SSL-level info callback installed from the interposed
 *   SSL_new; SSL_CB_HANDSHAKE_DONE is the one place that sees every
 *   handshake, including BIO_f_ssl servers (s_server -www) that never call an
 *   interposable function. It chains to the application's callback (its own
 *   SSL-level one, else the SSL_CTX one looked up at event time, so later
 *   SSL_CTX_set_info_callback and SNI SSL_set_SSL_CTX switches keep working);
 *   SSL_set_info_callback/SSL_get_info_callback are interposed so the app
 *   neither removes ours nor sees it.
 * - backup: wrappers of the calls that drive a handshake, for SSL objects
 *   made by a privately dlsym'ed SSL_new; they also open the per-thread scope
 *   in which the host's I/O hooks report the connection's fd (curl's own BIO).
 * Per-SSL state hangs off SSL ex_data, freed by OpenSSL in SSL_free: no table
 * and no lock, and an SSL is used by one thread at a time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsh_int.h"

typedef void (*info_cb_t)(const SSL *ssl, int where, int ret);

static const char *const ssl_libs[] = {"libssl.so.3", NULL};
static const char *const crypto_libs[] = {"libcrypto.so.3", NULL};

#define SSL_FUNCS(X)                                                                               \
    X(SSL_new)                                                                                     \
    X(SSL_set_info_callback)                                                                       \
    X(SSL_get_info_callback)                                                                       \
    X(SSL_CTX_get_info_callback)                                                                   \
    X(SSL_get_SSL_CTX)                                                                             \
    X(SSL_set_ex_data)                                                                             \
    X(SSL_get_ex_data)                                                                             \
    X(SSL_is_init_finished)                                                                        \
    X(SSL_get_client_random)                                                                       \
    X(SSL_export_keying_material)                                                                  \
    X(SSL_get_fd)                                                                                  \
    X(SSL_version)                                                                                 \
    X(SSL_is_server)                                                                               \
    X(SSL_ctrl)                                                                                    \
    X(SSL_do_handshake)                                                                            \
    X(SSL_connect)                                                                                 \
    X(SSL_accept)                                                                                  \
    X(SSL_read)                                                                                    \
    X(SSL_read_ex)                                                                                 \
    X(SSL_peek)                                                                                    \
    X(SSL_peek_ex)                                                                                 \
    X(SSL_write)                                                                                   \
    X(SSL_write_ex)                                                                                \
    X(SSL_read_early_data)                                                                         \
    X(SSL_write_early_data)                                                                        \
    X(SSL_clear)
#define CRYPTO_FUNCS(X)                                                                            \
    X(ERR_set_mark)                                                                                \
    X(ERR_pop_to_mark)                                                                             \
    X(CRYPTO_get_ex_new_index)

#define DECL_PTR(n) __typeof__(n) *n;
static struct {
    SSL_FUNCS(DECL_PTR)
    CRYPTO_FUNCS(DECL_PTR)
    int ex_idx;
    int ok; /* everything resolved and the ex_data index allocated (atomic) */
} R;

static pthread_once_t r_once = PTHREAD_ONCE_INIT;

struct ossl_state {
    info_cb_t app_cb; /* the app's SSL-level callback, NULL if none */
    int done;         /* exported, or the host said "not ours" */
    int hs_done;      /* TLS <= 1.2: HANDSHAKE_DONE seen, export at the EXIT */
};

static void state_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

/* SSL_dup must not share (and later double-free) our state: the copy starts
 * without any and gets one lazily. */
static int state_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx,
                     long argl, void *argp)
{
    (void)to, (void)from, (void)idx, (void)argl, (void)argp;
    *from_d = NULL;
    return 1;
}

static void resolve_all(void)
{
#define RES_SSL(n)    R.n = (__typeof__(n) *)mpx_tlsh_resolve(#n, ssl_libs);
#define RES_CRYPTO(n) R.n = (__typeof__(n) *)mpx_tlsh_resolve(#n, crypto_libs);
    SSL_FUNCS(RES_SSL)
    CRYPTO_FUNCS(RES_CRYPTO)
#define CHECK_PTR(n) || !R.n
    if (0 SSL_FUNCS(CHECK_PTR) CRYPTO_FUNCS(CHECK_PTR))
        return;
    int saved = errno;
    R.ERR_set_mark();
    R.ex_idx = R.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, state_dup, state_free);
    R.ERR_pop_to_mark();
    errno = saved;
    __atomic_store_n(&R.ok, R.ex_idx >= 0, __ATOMIC_RELEASE);
}

static int hooks_on(void)
{
    return __atomic_load_n(&R.ok, __ATOMIC_ACQUIRE);
}

/* Resolved at the first interposed call rather than in a constructor:
 * libssl may be dlopen'ed later (notes/tlshooks.md §2.1). pthread_once makes
 * concurrent first calls wait for one resolution. If libssl was not loaded
 * then (a program probing SSL_* through RTLD_DEFAULT, pitfall 4), later calls
 * retry, under a trylock so that a fork() can never leave it held. */
static int ready(void)
{
    static pthread_mutex_t retry_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_once(&r_once, resolve_all);
    if (hooks_on())
        return 1;
    if (pthread_mutex_trylock(&retry_lock) == 0) {
        if (!hooks_on())
            resolve_all();
        pthread_mutex_unlock(&retry_lock);
    }
    return hooks_on();
}

/* The real function: from the table, or looked up on each call when the
 * table could not be completed (a program calling SSL_* without libssl:
 * the wrapper then fails cleanly instead of calling NULL, pitfall 4). */
#define REAL(n) (ready() ? R.n : (__typeof__(n) *)mpx_tlsh_resolve(#n, ssl_libs))

static struct ossl_state *state_get(const SSL *s, int create)
{
    struct ossl_state *st = R.SSL_get_ex_data(s, R.ex_idx);
    if (st || !create)
        return st;
    st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    R.ERR_set_mark();
    int ok = R.SSL_set_ex_data((SSL *)s, R.ex_idx, st);
    R.ERR_pop_to_mark();
    if (!ok) {
        free(st);
        return NULL;
    }
    return st;
}

static int ems_status(SSL *s, unsigned version)
{
    if (version >= TLS1_3_VERSION)
        return -1; /* RFC 8446 has no EMS: the exporter is always bound */
    /* SSL_get_extms_support() is -1 while still inside the handshake, e.g.
     * at HANDSHAKE_DONE (notes/tlshooks.md §3.2): that is why TLS 1.2 is
     * exported at the following SSL_CB_EXIT or after the wrapped call. */
    long v = R.SSL_ctrl(s, SSL_CTRL_GET_EXTMS_SUPPORT, 0, NULL);
    return v < 0 ? -1 : v > 0;
}

/* Export once the handshake is complete. The caller guarantees that
 * (HANDSHAKE_DONE, the SSL_CB_EXIT after it, or SSL_is_init_finished after a
 * wrapped call): earlier, OpenSSL returns wrong bytes in TLS 1.2 - and both
 * OpenSSL ends then agree on the same wrong value, so a pair of OpenSSL peers
 * cannot reveal it (measured; notes/tlshooks.md §6). */
static void ossl_export(SSL *s, struct ossl_state *st)
{
    if (st->done || !mpx_tlsh_busy_begin())
        return;
    int saved = errno;
    int deliver = 0;
    struct mpx_tlsh_export e = {.fd = -1, .lib = MPX_TLSH_LIB_OPENSSL};
    /* Our calls must leave the app's error queue as it was: a failing export
     * (premature HANDSHAKE_DONE of a 0-RTT client) pushes an error that
     * SSL_get_error would otherwise report to the app. */
    R.ERR_set_mark();
    if (R.SSL_get_client_random(s, e.client_random, sizeof(e.client_random)) ==
        sizeof(e.client_random)) {
        e.is_server = R.SSL_is_server(s);
        e.tls_version = (unsigned)R.SSL_version(s);
        if (mpx_tlsh_lookup(R.SSL_get_fd(s), &e) < 0) {
            st->done = 1; /* not a connection of the host's */
        } else if (R.SSL_export_keying_material(s, e.key, sizeof(e.key), MPX_TLSH_LABEL,
                                                strlen(MPX_TLSH_LABEL), e.ctx, e.ctx_len,
                                                e.ctx_len > 0) == 1) {
            /* Marked only on success: the 0-RTT client's premature
             * HANDSHAKE_DONE fails here and the real one follows. */
            st->done = 1;
            deliver = 1;
            e.ems = ems_status(s, e.tls_version);
        }
    }
    R.ERR_pop_to_mark();
    if (deliver)
        mpx_tlsh_deliver(&e);
    explicit_bzero(e.key, sizeof(e.key));
    errno = saved;
    mpx_tlsh_busy_end();
}

static void info_cb(const SSL *cs, int where, int ret)
{
    SSL *s = (SSL *)cs;
    struct ossl_state *st = state_get(s, 0);
    if (st && !st->done) {
        /* TLS 1.3: export right at HANDSHAKE_DONE, the earliest complete
         * point. TLS <= 1.2: at the SSL_CB_EXIT (ret 1) that follows in the
         * same call, where the EMS status is readable (§3.2). */
        if ((where & SSL_CB_HANDSHAKE_DONE) && R.SSL_version(s) < TLS1_3_VERSION)
            st->hs_done = 1;
        else if ((where & SSL_CB_HANDSHAKE_DONE) ||
                 ((where & SSL_CB_EXIT) && ret == 1 && st->hs_done))
            ossl_export(s, st);
    }
    info_cb_t app = st ? st->app_cb : NULL;
    if (!app) {
        SSL_CTX *ctx = R.SSL_get_SSL_CTX(s);
        app = ctx ? R.SSL_CTX_get_info_callback(ctx) : NULL;
    }
    if (app && app != info_cb)
        app(cs, where, ret);
}

MPX_TLSH_EXPORT SSL *SSL_new(SSL_CTX *ctx)
{
    __typeof__(SSL_new) *real = REAL(SSL_new);
    if (!real)
        return NULL;
    SSL *s = real(ctx);
    if (s && hooks_on()) {
        int saved = errno;
        if (state_get(s, 1))
            R.SSL_set_info_callback(s, info_cb);
        errno = saved;
    }
    return s;
}

MPX_TLSH_EXPORT void SSL_set_info_callback(SSL *s, info_cb_t cb)
{
    __typeof__(SSL_set_info_callback) *real = REAL(SSL_set_info_callback);
    if (!real)
        return;
    struct ossl_state *st = hooks_on() ? state_get(s, 1) : NULL;
    if (!st) {
        real(s, cb);
        return;
    }
    if (cb != info_cb)
        st->app_cb = cb;
    real(s, info_cb); /* keep ours installed: it chains to cb */
}

MPX_TLSH_EXPORT info_cb_t SSL_get_info_callback(const SSL *s)
{
    __typeof__(SSL_get_info_callback) *real = REAL(SSL_get_info_callback);
    if (!real)
        return NULL;
    info_cb_t cb = real(s);
    if (cb != info_cb)
        return cb;
    struct ossl_state *st = state_get(s, 0);
    return st ? st->app_cb : NULL;
}

/* After a handshake-driving call: the backup for SSL objects without our
 * callback, and the retry after a premature HANDSHAKE_DONE. */
static void after_call(SSL *s)
{
    if (!hooks_on() || !s)
        return;
    int saved = errno;
    struct ossl_state *st = state_get(s, 1);
    if (st && !st->done && R.SSL_is_init_finished(s))
        ossl_export(s, st);
    errno = saved;
}

/* The wrapper scope: the host's I/O hooks report fds while it is open. */
#define DRIVER(name, params, args, errval)                                                         \
    MPX_TLSH_EXPORT int name params                                                                \
    {                                                                                              \
        __typeof__(name) *real = REAL(name);                                                       \
        if (!real)                                                                                 \
            return errval;                                                                         \
        if (!mpx_tlsh_call_enter())                                                                \
            return real args;                                                                      \
        int r = real args;                                                                         \
        after_call(s);                                                                             \
        mpx_tlsh_call_leave();                                                                     \
        return r;                                                                                  \
    }

DRIVER(SSL_do_handshake, (SSL * s), (s), -1)
DRIVER(SSL_connect, (SSL * s), (s), -1)
DRIVER(SSL_accept, (SSL * s), (s), -1)
DRIVER(SSL_read, (SSL * s, void *b, int n), (s, b, n), -1)
DRIVER(SSL_read_ex, (SSL * s, void *b, size_t n, size_t *o), (s, b, n, o), 0)
DRIVER(SSL_peek, (SSL * s, void *b, int n), (s, b, n), -1)
DRIVER(SSL_peek_ex, (SSL * s, void *b, size_t n, size_t *o), (s, b, n, o), 0)
DRIVER(SSL_write, (SSL * s, const void *b, int n), (s, b, n), -1)
DRIVER(SSL_write_ex, (SSL * s, const void *b, size_t n, size_t *o), (s, b, n, o), 0)
DRIVER(SSL_read_early_data, (SSL * s, void *b, size_t n, size_t *o), (s, b, n, o),
       SSL_READ_EARLY_DATA_ERROR)
DRIVER(SSL_write_early_data, (SSL * s, const void *b, size_t n, size_t *o), (s, b, n, o), 0)

/* SSL_clear readies an SSL object for a new connection (servers that recycle
 * SSL objects): that connection needs its own export. The app's callback and
 * ours survive SSL_clear, as in OpenSSL. libssl calls SSL_clear from SSL_new
 * through the PLT, before our state exists: nothing to reset then. */
MPX_TLSH_EXPORT int SSL_clear(SSL *s)
{
    __typeof__(SSL_clear) *real = REAL(SSL_clear);
    if (!real)
        return 0;
    int r = real(s);
    if (r == 1 && s && hooks_on()) {
        struct ossl_state *st = state_get(s, 0);
        if (st)
            st->done = st->hs_done = 0;
    }
    return r;
}
