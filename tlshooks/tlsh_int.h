/*
 * tlshooks internals shared by openssl.c and gnutls.c. Everything here is
 * hidden: the only visible symbols of tlshooks are the interposed library
 * functions.
 */
#ifndef MPX_TLSH_INT_H
#define MPX_TLSH_INT_H

#include "tlshooks.h"

/* Interposed functions must stay visible even under -fvisibility=hidden. */
#define MPX_TLSH_EXPORT __attribute__((visibility("default")))

/* Find the real definition of `name`: RTLD_NEXT first, then the already
 * loaded libraries in `libs` (dlopen RTLD_NOLOAD), for a libssl that was
 * dlopen'ed RTLD_LOCAL (python's _ssl, notes/tlshooks.md §2.1). Never
 * RTLD_DEFAULT: that finds our own wrapper. NULL when not loaded. */
MPX_TLSH_HIDDEN void *mpx_tlsh_resolve(const char *name, const char *const *libs);

/* Scope of a call into the TLS library made by the application. enter()
 * returns 0 when tlshooks itself is running on this thread (recursion guard):
 * the wrapper then only forwards the call. */
MPX_TLSH_HIDDEN int mpx_tlsh_call_enter(void);
MPX_TLSH_HIDDEN void mpx_tlsh_call_leave(void);

/* Recursion guard around tlshooks' own work (export, host callbacks). */
MPX_TLSH_HIDDEN int mpx_tlsh_busy_begin(void);
MPX_TLSH_HIDDEN void mpx_tlsh_busy_end(void);

/* Ask the host for the context of a session. lib_fd is what the library
 * says (-1 if nothing); the tracked fd of this thread is preferred when known
 * (notes/tlshooks.md §4: it is the fd that carried the last flight), then
 * lib_fd, then -1 (match by client random). Fills e->fd, e->ctx, e->ctx_len.
 * Returns <0 when the host says the session is not one of its connections. */
MPX_TLSH_HIDDEN int mpx_tlsh_lookup(int lib_fd, struct mpx_tlsh_export *e);

/* Hand e to the host, then erase the key material in e. */
MPX_TLSH_HIDDEN void mpx_tlsh_deliver(struct mpx_tlsh_export *e);

#endif
