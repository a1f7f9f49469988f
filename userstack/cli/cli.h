/*
 * cli.h - the `mptcpext` command-line tool: shared pieces.
 *
 *   main.c  global options, the RPC client, verb dispatch, set/get
 *   show.c  conn, endpoint, limits, counters, monitor (text like ss -M /
 *           ip mptcp / nstat, or --json)
 *   data.c  connect / listen (stdin/stdout over an MPTCP connection, like
 *           ncat) and plot
 */
#ifndef MPX_CLI_H
#define MPX_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc.h"

struct cli {
    int fd;
    uint32_t next_id;
    bool json;
    const char *sock;
    char sock_buf[128];
};

/* Connect to the daemon (prints the error). 0 or -1. */
int cli_open(struct cli *c);
/* Send a request (with up to one fd); returns its id, or 0 on error. */
uint32_t cli_send(struct cli *c, uint16_t type, const void *body, size_t len, int fd);
/* Receive and validate the next message (any id). 1 ok, 0 daemon closed,
 * -1 error (printed). |timeout_ms| < 0: wait forever. */
int cli_recv(struct cli *c, struct mpx_rpc_hdr *h, void *body, size_t cap, int timeout_ms);
/* Request + the reply to it. Returns 0 and the reply, or -1 (printed). */
int cli_call(struct cli *c, uint16_t type, const void *body, size_t len, int fd,
             struct mpx_rpc_hdr *h, void *reply, size_t cap);
/* Request whose reply is a STATUS: prints "Error: ..." and returns 1 when
 * the status is an error, 0 when fine, -1 on transport errors. */
int cli_simple(struct cli *c, uint16_t type, const void *body, size_t len);
void cli_print_status_error(const struct mpx_rpc_status *s);

int cli_cmd_conn(struct cli *c, int argc, char **argv);
int cli_cmd_rotate(struct cli *c, int argc, char **argv);
int cli_cmd_endpoint(struct cli *c, int argc, char **argv);
int cli_cmd_limits(struct cli *c, int argc, char **argv);
int cli_cmd_counters(struct cli *c, int argc, char **argv);
int cli_cmd_monitor(struct cli *c, int argc, char **argv);
int cli_cmd_connect(struct cli *c, int argc, char **argv);
int cli_cmd_listen(struct cli *c, int argc, char **argv);
int cli_cmd_plot(int argc, char **argv);
/* run [OPTIONS] PROGRAM ARGS...: exec PROGRAM under libmptcpext.so
 * (run.c); returns only on error. */
int cli_cmd_run(struct cli *c, int argc, char **argv);

/* Reads and checks a PSK file (owner-only permissions, 16..64 bytes, raw
 * or hex). 0 or -1 (printed). */
int cli_read_psk(const char *path, uint8_t *psk, uint16_t *len);

#endif /* MPX_CLI_H */
