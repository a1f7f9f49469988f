/*
 * keylog.h - the key-log file of mptcpextd (`--keylog FILE`, config key
 * `keylog`): the secrets of every connection, one line per key event, for
 * a researcher who wants to verify HMACs or decrypt a capture, in the
 * spirit of SSLKEYLOGFILE. DESIGN decision 6: the engine never logs a key
 * anywhere else. Format (hex, lower case, one event per line):
 *
 *   MPTCP_KEYS <local token> <local key> <remote key>      RFC 8684 keys
 *   MPTCP_EXTKEY <local token> <remote token> <key>        an external key
 *                                              installed or rotated to
 */
#ifndef MPX_DAEMON_KEYLOG_H
#define MPX_DAEMON_KEYLOG_H

#include <stddef.h>
#include <stdint.h>

/* Open (create, mode 0600, append) |path|; the fd or -errno. Refuses
 * anything but a regular file owned by us, and tightens an existing
 * file's mode to 0600 (keys must not be readable by others). */
int mpx_keylog_open(const char *path);
void mpx_keylog_close(int fd);

/* One line each, written with a single append (lines from several
 * daemons sharing a file do not interleave). Errors are ignored: a key
 * log must never stop the engine. */
void mpx_keylog_keys(int fd, uint32_t ltoken, uint64_t lkey, uint64_t rkey);
void mpx_keylog_extkey(int fd, uint32_t ltoken, uint32_t rtoken, const uint8_t *key, size_t len);

#endif /* MPX_DAEMON_KEYLOG_H */
