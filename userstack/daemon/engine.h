/*
 * engine.h - the daemon's adapter over the sans-I/O MPTCP stack
 * (mptcp_stack.h). Every call from the daemon into the stack goes through
 * here, so that the integration with the stack's growing API is one file.
 * Errors are negative errno values (the daemon's currency), never MPX_ERR_*.
 */
#ifndef MPX_DAEMON_ENGINE_H
#define MPX_DAEMON_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "rpc.h"

struct mpx_eng;

/* NULL with |err| filled on failure. */
struct mpx_eng *mpx_eng_new(const struct mpx_dcfg *cfg, char *err, size_t errcap);
void mpx_eng_free(struct mpx_eng *e);

void mpx_eng_input(struct mpx_eng *e, const uint8_t *pkt, size_t len, uint64_t now);
/* |csum_ok|: the TUN says the packet is intact (offloads: partial or
 * already verified checksum); it may be a GRO'd super segment. */
void mpx_eng_input_ex(struct mpx_eng *e, const uint8_t *pkt, size_t len, bool csum_ok,
                      uint64_t now);
/* Next packet: length, 0 when none, or -ENOBUFS. */
int mpx_eng_output(struct mpx_eng *e, uint8_t *out, size_t cap, uint64_t now);
/* For the packet mpx_eng_output() just gave: 0, or the segment payload
 * (gso_size) of a TSO super segment (only with `offload on`). */
unsigned mpx_eng_out_gso(const struct mpx_eng *e);
uint64_t mpx_eng_next_deadline(const struct mpx_eng *e);
void mpx_eng_on_timer(struct mpx_eng *e, uint64_t now);

/* Stack events translated to RPC events (CREATED is synthesised by the
 * daemon at connect time). READABLE/WRITABLE only set *wake. */
int mpx_eng_poll_event(struct mpx_eng *e, struct mpx_rpc_event *ev, bool *wake);

/* Active open with the daemon's configured external-key policy. */
long mpx_eng_connect(struct mpx_eng *e, const struct mpx_rpc_addr *local,
                     const struct mpx_rpc_addr *remote, uint16_t port, uint64_t now);
/* Same with |extkey_policy| (enum mpx_rpc_extkey; DEFAULT = configured). */
long mpx_eng_connect_ext(struct mpx_eng *e, const struct mpx_rpc_addr *local,
                         const struct mpx_rpc_addr *remote, uint16_t port, uint8_t extkey_policy,
                         uint64_t now);
/* Listeners on one address (|local| family 0: every address; an all-zero
 * address: every one of its family; [::] takes IPv4 too unless V6ONLY),
 * like bound kernel sockets: a SYN goes to the exact address's listener,
 * else the wildcard's (mpx_stack_listen_addr); with none, later SYNs are
 * refused (RST) like the kernel's. extkey (MPX_RPC_EXTKEY_*) DEFAULT: the
 * daemon's `extkey` as it is when each SYN arrives. -EADDRINUSE when the
 * (address, port) overlaps a listener (unless both REUSEPORT) or is one.
 * The daemon unlistens when the last app listener of the key is gone. */
#define MPX_ENG_LISTEN_V6ONLY    0x1u
#define MPX_ENG_LISTEN_REUSEPORT 0x2u
int mpx_eng_listen_addr(struct mpx_eng *e, const struct mpx_rpc_addr *local, uint16_t port,
                        uint32_t flags, uint8_t extkey_policy);
void mpx_eng_unlisten_addr(struct mpx_eng *e, const struct mpx_rpc_addr *local, uint16_t port);
/* Next established connection of the listener (local, port), or -EAGAIN. */
long mpx_eng_accept_addr(struct mpx_eng *e, const struct mpx_rpc_addr *local, uint16_t port);
long mpx_eng_send(struct mpx_eng *e, uint32_t conn, const void *buf, size_t len, uint64_t now);
/* Bytes, 0 at end of stream, -EAGAIN, or an error. */
long mpx_eng_recv(struct mpx_eng *e, uint32_t conn, void *buf, size_t len, uint64_t now);
int mpx_eng_shutdown(struct mpx_eng *e, uint32_t conn, uint64_t now);
int mpx_eng_close(struct mpx_eng *e, uint32_t conn, uint64_t now);
int mpx_eng_abort(struct mpx_eng *e, uint32_t conn, uint64_t now);

/* External keys (DESIGN decision 6). set_key: a raw key of 16..64 bytes
 * (TLS exporter, mptcpext_set_key); set_psk: a pre-shared key, expanded per
 * connection by the core (HKDF with the tokens). Both start NEW_KEY. 0,
 * -ENOENT, -EOPNOTSUPP (the connection is not in E mode), -EALREADY (it has
 * a key: the first one stays), -EINVAL (length). Never logged. */
int mpx_eng_set_key(struct mpx_eng *e, uint32_t conn, const void *key, size_t len, uint64_t now);
int mpx_eng_set_psk(struct mpx_eng *e, uint32_t conn, const void *psk, size_t len, uint64_t now);
/* Next key generation (both ends must rotate). 0, -ENOENT, -EOPNOTSUPP (no
 * active key or a rotation in progress), -EAGAIN (old key in its grace). */
int mpx_eng_rotate_key(struct mpx_eng *e, uint32_t conn, uint64_t now);

/* Fill |out| (conn, flags, tokens, tuple of the first subflow, counters,
 * subflows). -ENOENT if the stack does not know |conn|. */
/* Connections whose app has closed, still finishing (mpx_stack_orphans). */
size_t mpx_eng_orphans(const struct mpx_eng *e, uint32_t *ids, size_t max);
int mpx_eng_conn_info(const struct mpx_eng *e, uint32_t conn, struct mpx_rpc_conn_info *out,
                      uint64_t now);

/* CONN_SETOPT: one socket option of |o->conn| (values validated by
 * mpx_rpc_decode). 0, -ENOENT (no such connection, or an unknown
 * congestion control), -EINVAL. */
int mpx_eng_conn_setopt(struct mpx_eng *e, const struct mpx_rpc_setopt *o, uint64_t now);

/* Counters in nstat form: calls |fn| for each (name, value). */
typedef void (*mpx_eng_counter_fn)(void *arg, const char *name, uint64_t value);
void mpx_eng_counters(const struct mpx_eng *e, mpx_eng_counter_fn fn, void *arg);

/*
 * Endpoints and limits live in the stack (its struct mpx_pm_cfg is the one
 * every connection's path manager reads); these apply a change to the stack,
 * which tells every connection (like the kernel walking its token table),
 * and copy the result back into cfg->pm so that `endpoint show`, `limits`
 * and `get` show what is in force. |type| is MPX_RPC_ENDP_ADD/DEL/CHANGE/
 * FLUSH. Negative errno on failure.
 */
int mpx_eng_endpoint(struct mpx_eng *e, struct mpx_dcfg *cfg, uint16_t type,
                     const struct mpx_pm_endpoint *ep, uint64_t now);
int mpx_eng_limits(struct mpx_eng *e, struct mpx_dcfg *cfg, int subflows, int add_addr_accepted);

/* A run-time setting changed (`mptcpext set`): the PM knobs apply at
 * once; extkey, scheduler and cc apply to connections opened or accepted
 * from now on (mpx_eng_conn_scheduler moves an existing one). */
void mpx_eng_config_changed(struct mpx_eng *e, const struct mpx_dcfg *cfg, const char *what);
/* Give |conn| the current `scheduler` setting (0, -ENOENT). */
int mpx_eng_conn_scheduler(struct mpx_eng *e, uint32_t conn);

#endif /* MPX_DAEMON_ENGINE_H */
