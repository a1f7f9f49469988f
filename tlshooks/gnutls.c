/*
 * tlshooks for GnuTLS 3.7 (libgnutls.so.30), found at run time: GnuTLS's
 * headers give the prototypes, libgnutls is never linked.
 *
 * The key is exported after gnutls_handshake() returned 0 and only then:
 * inside handshake hooks (gnutls_handshake_set_hook_function) and at any
 * earlier point GnuTLS returns success with wrong bytes, even at the TLS 1.3
 * client's FINISHED post hook, and an app can replace the single hook
 * (notes/tlshooks.md §3.3, §6). libgnutls' own re-entries (false start,
 * early start, post-handshake auth in gnutls_record_recv) reach this wrapper
 * through the PLT; the per-session "done" flag keeps it to one export.
 *
 * GnuTLS has no public role getter and no free hook for per-session data,
 * so gnutls_init/gnutls_deinit are interposed to keep a small table keyed by
 * the session pointer (role, done), under a mutex made fork-safe with
 * pthread_atfork.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "tlsh_int.h"

static const char *const gnutls_libs[] = {"libgnutls.so.30", NULL};

#define GNUTLS_FUNCS(X)                                                                            \
    X(gnutls_init)                                                                                 \
    X(gnutls_deinit)                                                                               \
    X(gnutls_handshake)                                                                            \
    X(gnutls_session_get_random)                                                                   \
    X(gnutls_prf_rfc5705)                                                                          \
    X(gnutls_transport_get_int2)                                                                   \
    X(gnutls_protocol_get_version)                                                                 \
    X(gnutls_session_ext_master_secret_status)

#define DECL_PTR(n) __typeof__(n) *n;
static struct {
    GNUTLS_FUNCS(DECL_PTR)
    int ok; /* atomic */
} G;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#define NBUCKETS 256

struct sess {
    struct sess *next;
    gnutls_session_t s;
    int is_server; /* -1: session not made by our gnutls_init */
    int done;
};

static struct sess *buckets[NBUCKETS];
static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;

static void tab_lock_take(void)
{
    pthread_mutex_lock(&tab_lock);
}

static void tab_lock_drop(void)
{
    pthread_mutex_unlock(&tab_lock);
}

static void resolve_all(void)
{
#define RES(n) G.n = (__typeof__(n) *)mpx_tlsh_resolve(#n, gnutls_libs);
    GNUTLS_FUNCS(RES)
#define CHECK_PTR(n) || !G.n
    if (0 GNUTLS_FUNCS(CHECK_PTR))
        return;
    /* A fork while another thread holds the table lock must not leave the
     * child's copy locked forever (nginx, sshd-style daemons fork). */
    static int atfork_done;
    if (!atfork_done && pthread_atfork(tab_lock_take, tab_lock_drop, tab_lock_drop) != 0)
        return;
    atfork_done = 1;
    __atomic_store_n(&G.ok, 1, __ATOMIC_RELEASE);
}

static int hooks_on(void)
{
    return __atomic_load_n(&G.ok, __ATOMIC_ACQUIRE);
}

/* As in openssl.c: resolve at the first call (pthread_once), retry under a
 * trylock while libgnutls is not loaded. */
static int ready(void)
{
    static pthread_mutex_t retry_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_once(&g_once, resolve_all);
    if (hooks_on())
        return 1;
    if (pthread_mutex_trylock(&retry_lock) == 0) {
        if (!hooks_on())
            resolve_all();
        pthread_mutex_unlock(&retry_lock);
    }
    return hooks_on();
}

#define REAL(n) (ready() ? G.n : (__typeof__(n) *)mpx_tlsh_resolve(#n, gnutls_libs))

static size_t bucket_of(gnutls_session_t s)
{
    uintptr_t v = (uintptr_t)s;
    return (size_t)((v >> 4) ^ (v >> 12)) % NBUCKETS;
}

/* Caller holds tab_lock. */
static struct sess **tab_find(gnutls_session_t s)
{
    struct sess **pp = &buckets[bucket_of(s)];
    while (*pp && (*pp)->s != s)
        pp = &(*pp)->next;
    return pp;
}

/* Start fresh state for a new session (a recycled address replaces a stale
 * entry left by a session freed behind our back). */
static void tab_reset(gnutls_session_t s, int is_server)
{
    tab_lock_take();
    struct sess **pp = tab_find(s);
    struct sess *e = *pp;
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (e) {
            e->s = s;
            e->next = buckets[bucket_of(s)];
            buckets[bucket_of(s)] = e;
        }
    }
    if (e) {
        e->is_server = is_server;
        e->done = 0;
    }
    tab_lock_drop();
}

static void tab_drop(gnutls_session_t s)
{
    tab_lock_take();
    struct sess **pp = tab_find(s);
    struct sess *e = *pp;
    if (e)
        *pp = e->next;
    tab_lock_drop();
    free(e);
}

/* Returns 1 and the role when the session still needs its export. Sessions
 * made by a privately resolved gnutls_init get an entry here. */
static int tab_pending(gnutls_session_t s, int *is_server)
{
    int pending = 0;
    tab_lock_take();
    struct sess *e = *tab_find(s);
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (e) {
            e->s = s;
            e->is_server = -1;
            e->next = buckets[bucket_of(s)];
            buckets[bucket_of(s)] = e;
        }
    }
    if (e && !e->done) {
        pending = 1;
        *is_server = e->is_server;
    }
    tab_lock_drop();
    return pending;
}

static void tab_mark_done(gnutls_session_t s)
{
    tab_lock_take();
    struct sess *e = *tab_find(s);
    if (e)
        e->done = 1;
    tab_lock_drop();
}

static unsigned wire_version(gnutls_protocol_t v)
{
    switch (v) {
    case GNUTLS_TLS1_0:
        return 0x0301;
    case GNUTLS_TLS1_1:
        return 0x0302;
    case GNUTLS_TLS1_2:
        return 0x0303;
    case GNUTLS_TLS1_3:
        return 0x0304;
    default:
        return 0;
    }
}

/* The library's fd, when the transport is an int: wget's set_ptr with a cast
 * fd shares storage with get_int2; libcurl-gnutls stores a pointer there,
 * which the host will not recognise (notes/tlshooks.md §4, pitfall 14). */
static int lib_fd(gnutls_session_t s)
{
    int r = -1, w = -1;
    G.gnutls_transport_get_int2(s, &r, &w);
    return (r >= 0 && r == w) ? r : -1;
}

static void gt_export(gnutls_session_t s)
{
    int is_server = -1;
    if (!tab_pending(s, &is_server) || !mpx_tlsh_busy_begin())
        return;
    int saved = errno;
    struct mpx_tlsh_export e = {.fd = -1, .lib = MPX_TLSH_LIB_GNUTLS, .is_server = is_server};
    gnutls_datum_t cr = {0}, sr = {0};
    G.gnutls_session_get_random(s, &cr, &sr);
    if (cr.data && cr.size == sizeof(e.client_random)) {
        memcpy(e.client_random, cr.data, sizeof(e.client_random));
        e.tls_version = wire_version(G.gnutls_protocol_get_version(s));
        if (mpx_tlsh_lookup(lib_fd(s), &e) < 0) {
            tab_mark_done(s);
            /* RFC 5705 "no context" is a NULL context: a non-NULL empty one
             * differs from OpenSSL's use_context=0 in TLS 1.2 (§5.1). */
        } else if (G.gnutls_prf_rfc5705(s, strlen(MPX_TLSH_LABEL), MPX_TLSH_LABEL, e.ctx_len,
                                        e.ctx_len ? (const char *)e.ctx : NULL, sizeof(e.key),
                                        (char *)e.key) == 0) {
            tab_mark_done(s);
            e.ems = e.tls_version >= 0x0304
                        ? -1
                        : (G.gnutls_session_ext_master_secret_status(s) ? 1 : 0);
            mpx_tlsh_deliver(&e);
        }
    }
    explicit_bzero(e.key, sizeof(e.key));
    errno = saved;
    mpx_tlsh_busy_end();
}

MPX_TLSH_EXPORT int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
    __typeof__(gnutls_init) *real = REAL(gnutls_init);
    if (!real)
        return GNUTLS_E_INTERNAL_ERROR;
    int r = real(session, flags);
    if (r == 0 && hooks_on() && session && *session) {
        int saved = errno;
        tab_reset(*session, (flags & GNUTLS_SERVER) ? 1 : 0);
        errno = saved;
    }
    return r;
}

MPX_TLSH_EXPORT void gnutls_deinit(gnutls_session_t session)
{
    __typeof__(gnutls_deinit) *real = REAL(gnutls_deinit);
    if (hooks_on() && session) {
        int saved = errno;
        tab_drop(session);
        errno = saved;
    }
    if (real)
        real(session);
}

MPX_TLSH_EXPORT int gnutls_handshake(gnutls_session_t session)
{
    __typeof__(gnutls_handshake) *real = REAL(gnutls_handshake);
    if (!real)
        return GNUTLS_E_INTERNAL_ERROR;
    if (!mpx_tlsh_call_enter())
        return real(session);
    int r = real(session);
    /* 0 is the only point at which the exporter value is final (§6). */
    if (r == 0 && hooks_on()) {
        int saved = errno;
        gt_export(session);
        errno = saved;
    }
    mpx_tlsh_call_leave();
    return r;
}
