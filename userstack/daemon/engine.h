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
/* Next packet: length, 0 when none, or -ENOBUFS. */
int mpx_eng_output(struct mpx_eng *e, uint8_t *out, size_t cap, uint64_t now);
uint64_t mpx_eng_next_deadline(const struct mpx_eng *e);
void mpx_eng_on_timer(struct mpx_eng *e, uint64_t now);

/* Stack events translated to RPC events (CREATED is synthesised by the
 * daemon at connect time). READABLE/WRITABLE only set *wake. */
int mpx_eng_poll_event(struct mpx_eng *e, struct mpx_rpc_event *ev, bool *wake);

long mpx_eng_connect(struct mpx_eng *e, const struct mpx_rpc_addr *local,
                     const struct mpx_rpc_addr *remote, uint16_t port, uint64_t now);
int mpx_eng_listen(struct mpx_eng *e, uint16_t port);
/* Next established connection on |port|, or -EAGAIN. */
long mpx_eng_accept(struct mpx_eng *e, uint16_t port);
long mpx_eng_send(struct mpx_eng *e, uint32_t conn, const void *buf, size_t len, uint64_t now);
/* Bytes, 0 at end of stream, -EAGAIN, or an error. */
long mpx_eng_recv(struct mpx_eng *e, uint32_t conn, void *buf, size_t len, uint64_t now);
int mpx_eng_shutdown(struct mpx_eng *e, uint32_t conn, uint64_t now);
int mpx_eng_close(struct mpx_eng *e, uint32_t conn, uint64_t now);
int mpx_eng_abort(struct mpx_eng *e, uint32_t conn, uint64_t now);

/* Fill |out| (conn, flags, tokens, tuple of the first subflow, counters,
 * subflows). -ENOENT if the stack does not know |conn|. */
int mpx_eng_conn_info(const struct mpx_eng *e, uint32_t conn, struct mpx_rpc_conn_info *out,
                      uint64_t now);

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

/* Other run-time settings (scheduler, cc, buffers, checksum, extkey ...):
 * the stack has no setter for them yet; they are stored in the daemon's
 * configuration and used for what the daemon decides itself (the extkey
 * policy of new connections). See the issue-6 report for the API needed. */
void mpx_eng_config_changed(struct mpx_eng *e, const struct mpx_dcfg *cfg, const char *what);

#endif /* MPX_DAEMON_ENGINE_H */
