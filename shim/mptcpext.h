/*
 * mptcpext.h - the public C API of libmptcpext.so (the LD_PRELOAD shim of
 * mptcpext, shim/README.md "External keys from your own program").
 *
 * For programs that have a secret of their own for a connection (a key
 * agreed by their own protocol, not TLS) and want MPTCP's extra subflows,
 * ADD_ADDR and MP_FASTCLOSE authenticated by it (draft-baerts-tcpm-mptcpext-00
 * "external keys"; DESIGN.md decision 6). TLS programs need nothing: the
 * shim takes the key from the TLS exporter by itself.
 *
 * These are the only symbols of libmptcpext.so besides the interposed libc
 * and TLS functions. A program that must also run without the shim declares
 * them weak and checks for NULL (see the example in shim/README.md).
 *
 * Both return 0, or -1 with errno set:
 *   EBADF       |fd| is not a socket managed by the shim (not preloaded,
 *               a kernel socket, an excluded destination, a listener)
 *   ENOTCONN    the connection is not established yet
 *   EOPNOTSUPP  the connection does not use external keys (policy never,
 *               or the peer did not negotiate them: RFC 8684 keys)
 *   EALREADY    (set_key) the connection already has its key: the first
 *               one stays (e.g. the TLS exporter was faster)
 *   EINVAL      (set_key) |len| not in 16..64, or |key| NULL
 *   EAGAIN      (rotate) the previous key is still in its grace period
 *   ECONNREFUSED, ENOENT ...  the engine is unreachable or forgot the connection
 */
#ifndef MPTCPEXT_H
#define MPTCPEXT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPTCPEXT_KEY_MIN 16
#define MPTCPEXT_KEY_MAX 64

/*
 * Install |len| bytes (16..64) as the external key of the MPTCP connection
 * of |fd|. Both ends must install the same bytes (each calls this on its own
 * fd); the engines then confirm the key with NEW_KEY and open the other
 * subflows. The key must be unique to this connection and secret: derive it
 * from your protocol's session secret, never reuse one key for several
 * connections. The bytes are copied and erased from the shim's memory;
 * the engine never logs them.
 */
int mptcpext_set_key(int fd, const void *key, size_t len);

/*
 * Move the connection of |fd| to its next key: key n+1 =
 * HKDF-Expand-SHA256(key n, "mptcpext rotate", 32), announced with NEW_KEY.
 * Both ends must call it. The old key keeps verifying late joins for a
 * grace period, then it is erased.
 */
int mptcpext_rotate_key(int fd);

#ifdef __cplusplus
}
#endif

#endif /* MPTCPEXT_H */
