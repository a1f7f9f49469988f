/*
 * tlshooks: take the TLS exporter value at handshake completion in unmodified
 * programs (OpenSSL 3, GnuTLS 3.7) and hand it to the host as the MPTCP
 * connection's external key (DESIGN.md decisions 6 and 7, notes/tlshooks.md).
 *
 * tlshooks is linked into an LD_PRELOAD library (the shim, libmptcpext.so; for
 * tests build/libmpxtlsh_test.so with tests/tools/tlsh_testhost.c). It defines
 * the interposed OpenSSL/GnuTLS functions (default visibility, unversioned:
 * a named version node would stop the binding, notes/tlshooks.md §2) and
 * nothing else visible; every mpx_tlsh_* symbol is hidden.
 *
 * Export parameters (RFC 5705 §4, RFC 8446 §7.5):
 *   label   "EXPERIMENTAL-mptcp-external-key" (RFC 5705 §4: unregistered
 *           labels must start with "EXPERIMENTAL")
 *   context initiator MPTCP token || responder token, 8 bytes, network order,
 *           as supplied by mpx_tlsh_host_context()
 *   length  32 bytes
 * taken only once the handshake has completed (both libraries return
 * "success" with wrong bytes earlier: notes/tlshooks.md §6), once per TLS
 * session: a TLS 1.2 renegotiation does not produce a second key.
 *
 * Timing: a TLS 1.3 client gets the key when it has read the server Finished;
 * the server only when it has read the client Finished, about half an RTT
 * later, and only once the application calls back into the TLS library.
 * tlshooks exports at the earliest point where the handshake is complete on
 * each side (OpenSSL's HANDSHAKE_DONE callback, inside whichever call read the
 * last flight; gnutls_handshake() returning 0); the engine must hold an
 * MP_JOIN that arrives before the server's key is installed.
 */
#ifndef MPX_TLSHOOKS_H
#define MPX_TLSHOOKS_H

#include <stddef.h>
#include <stdint.h>

#define MPX_TLSH_HIDDEN __attribute__((visibility("hidden")))

#define MPX_TLSH_LABEL      "EXPERIMENTAL-mptcp-external-key"
#define MPX_TLSH_KEY_LEN    32
#define MPX_TLSH_CTX_LEN    8
#define MPX_TLSH_RANDOM_LEN 32

enum mpx_tlsh_lib {
    MPX_TLSH_LIB_OPENSSL = 1,
    MPX_TLSH_LIB_GNUTLS = 2,
};

/* One exported key, as handed to mpx_tlsh_host_key(). */
struct mpx_tlsh_export {
    int fd;                /* connection fd the host recognised, or -1 */
    int is_server;         /* TLS role: 1 server, 0 client, -1 unknown */
    unsigned tls_version;  /* wire form: 0x0303 TLS 1.2, 0x0304 TLS 1.3 */
    int ems;               /* RFC 7627 extended master secret (TLS <= 1.2):
                              1 yes, 0 no, -1 unknown or not applicable */
    enum mpx_tlsh_lib lib; /* which library produced it */
    size_t ctx_len;        /* 8, or 0 when the host asked for no context */
    uint8_t ctx[MPX_TLSH_CTX_LEN];
    /* ClientHello.random: the engine can read it at bytes 11..42 of the
     * client->server stream (notes/tlshooks.md §4.1) and match the key to a
     * connection when no fd was found (memory BIOs, custom transports). */
    uint8_t client_random[MPX_TLSH_RANDOM_LEN];
    uint8_t key[MPX_TLSH_KEY_LEN];
};

/* ---- provided by the host (the shim; tests: tests/tools/tlsh_testhost.c) --
 *
 * mpx_tlsh_host_context: is the connection of this TLS session ours, and what
 * exporter context does it use? Called with each candidate fd in turn until
 * one is accepted: (1) the fd this thread last reported through
 * mpx_tlsh_note_io inside the TLS call that completed the handshake (it
 * carried the last flight), (2) the library's own fd (SSL_get_fd,
 * gnutls_transport_get_int2: may be garbage, e.g. libcurl-gnutls stores a
 * pointer there, so the host validates it), (3) -1: no fd, the host may match
 * by client_random. This is notes/tlshooks.md §4's rule; DESIGN.md decision 7
 * lists (2) before (1), which only differs when both are valid and disagree.
 * At most three calls per session, from the thread driving the handshake,
 * never from a signal handler.
 * Returns <0: not ours (tlshooks does nothing more for this session);
 *          8: ctx holds initiator token || responder token (network order);
 *          0: export with no context (RFC 5705 "no context"; tests only).
 */
MPX_TLSH_HIDDEN int mpx_tlsh_host_context(int fd, const uint8_t client_random[MPX_TLSH_RANDOM_LEN],
                                          uint8_t ctx[MPX_TLSH_CTX_LEN]);

/* mpx_tlsh_host_key: the key of a session for which host_context said "ours".
 * Called once per TLS session, right after the export, on the thread that
 * completed the handshake, with no tlshooks lock held. The host must copy
 * what it keeps; e->key is erased after the call.
 * "Once per session", not per connection: a second TLS session over the same
 * fd (TLS-in-TLS through an HTTPS proxy, STARTTLS after TLS, a new SSL on the
 * same socket) reports again. The host keeps the first key of a connection,
 * or better, only a key whose client_random it saw at bytes 11..42 of the
 * connection's client->server stream. */
MPX_TLSH_HIDDEN void mpx_tlsh_host_key(const struct mpx_tlsh_export *e);

/* ---- provided by tlshooks for the host -------------------------------------
 *
 * curl drives OpenSSL through its own BIO, so SSL_get_fd() is -1 there
 * (notes/tlshooks.md §4). The host's I/O hooks (send, recv, read, write, ...)
 * therefore report the fds of its bridged connections: tlshooks remembers the
 * last one used by this thread inside a TLS call and offers it as the
 * candidate fd. Both are async-signal-safe (thread-local reads and writes,
 * initial-exec TLS model, no locks, no heap). */
MPX_TLSH_HIDDEN int mpx_tlsh_in_tls_call(void);
MPX_TLSH_HIDDEN void mpx_tlsh_note_io(int fd);

#endif
