/*
 * tlshooks: symbol resolution, per-thread call tracking and delivery to the
 * host, shared by the OpenSSL and GnuTLS hooks.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "tlsh_int.h"

/* initial-exec: these are touched from the host's I/O hooks, which may run in
 * a signal handler; the global-dynamic model could allocate on first use. The
 * library is preloaded, so static TLS space is always available. */
#define TLS_IE __thread __attribute__((tls_model("initial-exec")))

static TLS_IE int tl_depth;        /* nesting of application TLS calls */
static TLS_IE int tl_last_fd = -1; /* last host fd used inside that scope */
static TLS_IE int tl_busy;         /* tlshooks itself is running */

void *mpx_tlsh_resolve(const char *name, const char *const *libs)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p)
        return p;
    for (int i = 0; libs && libs[i]; i++) {
        void *h = dlopen(libs[i], RTLD_LAZY | RTLD_NOLOAD);
        if (!h)
            continue;
        /* dlsym on the handle searches that library's own dependency scope,
         * which does not contain the preload: this is the real symbol. */
        p = dlsym(h, name);
        dlclose(h); /* only drops the reference NOLOAD took */
        if (p)
            return p;
    }
    return NULL;
}

int mpx_tlsh_call_enter(void)
{
    if (tl_busy)
        return 0;
    /* A new outermost call starts a new scope: an fd seen in an earlier call
     * may belong to another connection (curl --parallel on one thread). */
    if (tl_depth++ == 0)
        tl_last_fd = -1;
    return 1;
}

void mpx_tlsh_call_leave(void)
{
    if (tl_depth > 0)
        tl_depth--;
}

int mpx_tlsh_busy_begin(void)
{
    if (tl_busy)
        return 0;
    tl_busy = 1;
    return 1;
}

void mpx_tlsh_busy_end(void)
{
    tl_busy = 0;
}

int mpx_tlsh_in_tls_call(void)
{
    return tl_depth > 0 && !tl_busy;
}

void mpx_tlsh_note_io(int fd)
{
    if (tl_depth > 0 && !tl_busy && fd >= 0)
        tl_last_fd = fd;
}

int mpx_tlsh_lookup(int lib_fd, struct mpx_tlsh_export *e)
{
    int cand[3] = {tl_depth > 0 ? tl_last_fd : -1, lib_fd, -1};
    int saved = errno;
    int rc = -1;
    for (int i = 0; i < 3; i++) {
        if (i > 0 && cand[i] >= 0 && cand[i] == cand[0])
            continue;
        if (i == 2 || cand[i] >= 0) {
            rc = mpx_tlsh_host_context(cand[i], e->client_random, e->ctx);
            if (rc >= 0) {
                e->fd = cand[i];
                e->ctx_len = rc >= MPX_TLSH_CTX_LEN ? MPX_TLSH_CTX_LEN : 0;
                break;
            }
        }
    }
    errno = saved;
    return rc < 0 ? -1 : 0;
}

void mpx_tlsh_deliver(struct mpx_tlsh_export *e)
{
    int saved = errno;
    mpx_tlsh_host_key(e);
    explicit_bzero(e->key, sizeof(e->key));
    errno = saved;
}
