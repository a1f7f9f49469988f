/*
 * config.h - mptcpextd configuration: one grammar for the config file, the
 * command-line flags and the OPT_SET RPC.
 *
 * A setting is a key and a value. In a file it is one line "key value...";
 * blank lines and lines starting with '#' are ignored, as is anything after
 * " #". On the command line it is "--key value" (or "--key=value"). Over RPC
 * it is `mptcpext set KEY VALUE`. Keys (see docs/mptcpextd.md):
 *
 *   name NAME               instance name (default socket path /run/mptcpext/NAME.sock)
 *   socket PATH             control socket path
 *   tun NAME                TUN device (default mptcp0)
 *   tun-mode auto|attach|create   attach: the device must exist (persistent);
 *                           create: make a new one; auto: attach, else create
 *   addr ADDRESS            a local address of the engine (repeatable, max 8)
 *   log-level error|warn|info|debug        [run time]
 *   pcap FILE               every packet sent and received
 *   events FILE             JSON-lines event log
 *   keylog FILE             secrets of every connection (mode 0600; keylog.h) [start]
 *   events-interval MS      per-subflow byte counters period (default 100, 0 = off)
 *   endpoint ARGS           like `ip mptcp endpoint add ARGS` (repeatable)
 *   limits ARGS             like `ip mptcp limits set ARGS`
 *   scheduler default|redundant|roundrobin  [run time: new and running conns]
 *   cc cubic|reno|lia       congestion control [run time: new conns]
 *   sndbuf SIZE, rcvbuf SIZE  connection buffers (K/M/G suffixes, 4096..1G)
 *                           [run time: new conns]
 *   checksum on|off         offer DSS checksums [run time: new conns]
 *   mptcp on|off            off: plain TCP (net.mptcp.enabled=0) [start]
 *   allow-join-initial-addr-port on|off     [run time]
 *   add-addr-timeout SECONDS                [run time]
 *   path-manager kernel|userspace           [run time: new conns]
 *   extkey never|prefer|require   external-key policy [run time: new active
 *                           opens, and SYNs to listeners without a policy of
 *                           their own]
 *   offload on|off          TUN offloads: TSO super-segments out, GRO'd ones in,
 *                           partial checksums (IFF_VNET_HDR + TUNSETOFFLOAD) [start]
 *   pacing on|off           TCP pacing (Linux rates), default off [run time: new conns]
 *   tun-napi auto|on|off    IFF_NAPI + threaded NAPI on the TUN: the kernel GROs what
 *                           we write before forwarding it; auto (default): IFF_NAPI
 *                           when the threaded NAPI can be set and offload is off,
 *                           threaded only while writes come in bursts (napigov.h)
 *                           [start]
 *
 * Errors never abort: every bad line gives "FILE:LINE: message".
 */
#ifndef MPX_DAEMON_CONFIG_H
#define MPX_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mptcp_pm.h"
#include "rpc.h"

#define MPX_DCFG_ADDR_MAX 8
#define MPX_DCFG_PATH_MAX 256

enum mpx_dcfg_log {
    MPX_DLOG_ERROR = 0,
    MPX_DLOG_WARN,
    MPX_DLOG_INFO,
    MPX_DLOG_DEBUG,
};

/* tun-napi: AUTO threads the NAPI only while writes come in bursts and
 * falls back to a plain TUN when the device's NAPI cannot be made threaded
 * (main.c open_tun); ON keeps it threaded, or IFF_NAPI alone with a warning */
enum mpx_dcfg_tun_napi {
    MPX_DCFG_NAPI_AUTO = 0,
    MPX_DCFG_NAPI_OFF,
    MPX_DCFG_NAPI_ON,
};

enum mpx_dcfg_tun_mode {
    MPX_DCFG_TUN_AUTO = 0,
    MPX_DCFG_TUN_ATTACH,
    MPX_DCFG_TUN_CREATE,
};

struct mpx_dcfg {
    char name[64];
    char socket_path[108];
    char tun[16];
    uint8_t tun_mode; /* enum mpx_dcfg_tun_mode */
    struct mpx_rpc_addr addrs[MPX_DCFG_ADDR_MAX];
    unsigned n_addrs;
    int log_level; /* enum mpx_dcfg_log */
    char pcap[MPX_DCFG_PATH_MAX];
    char events[MPX_DCFG_PATH_MAX];
    char keylog[MPX_DCFG_PATH_MAX]; /* "" = none */
    unsigned events_interval_ms;
    struct mpx_pm_cfg pm; /* endpoints and limits */
    char scheduler[32];
    char cc[32];
    uint32_t sndbuf, rcvbuf;
    bool checksum, mptcp;
    bool offload;          /* TUN segmentation/checksum offload (vnet headers, TSO, GRO) */
    bool pacing;           /* TCP pacing of the subflows (tcp.h cfg.pacing) */
    uint8_t tun_napi;      /* enum mpx_dcfg_tun_napi (tun.h MPX_TUN_F_NAPI) */
    unsigned tun_mtu;      /* the TUN's MTU when opened (main.c), 0: the stack default */
    uint8_t extkey_policy; /* enum mpx_rpc_extkey, never DEFAULT */
    bool running;          /* after start: startup-only keys are refused */
};

void mpx_dcfg_init(struct mpx_dcfg *cfg);

/* Apply one setting. 0, or -EINVAL / -EPERM (startup-only key at run time)
 * / -ENOSPC / -EEXIST with a message in |err|. */
int mpx_dcfg_set(struct mpx_dcfg *cfg, const char *key, const char *value, char *err,
                 size_t errcap);
/* One config-file line (comments and blanks accepted: 0). */
int mpx_dcfg_line(struct mpx_dcfg *cfg, const char *line, char *err, size_t errcap);
/* A whole file given as text (|name| is used in messages "name:LINE: ...").
 * Stops at the first bad line. */
int mpx_dcfg_parse_text(struct mpx_dcfg *cfg, const char *name, const char *text, char *err,
                        size_t errcap);
/* Read and parse a file. */
int mpx_dcfg_load(struct mpx_dcfg *cfg, const char *path, char *err, size_t errcap);
/* Current value of |key| as text (as it would be written in a file). */
int mpx_dcfg_get(const struct mpx_dcfg *cfg, const char *key, char *buf, size_t cap);
/* Does |key| exist? May it change at run time (`mptcpext set`)? */
bool mpx_dcfg_key_known(const char *key);
bool mpx_dcfg_key_runtime(const char *key);
/* The i-th key (0..), NULL past the last: `mptcpext get` lists them all. */
const char *mpx_dcfg_key_name(int i);

/* Conversions between the RPC endpoint and the PM's. */
void mpx_dcfg_endp_to_pm(const struct mpx_rpc_endp *in, struct mpx_pm_endpoint *out);
void mpx_dcfg_endp_from_pm(const struct mpx_pm_endpoint *in, struct mpx_rpc_endp *out);

const char *mpx_dcfg_log_name(int level);

#endif /* MPX_DAEMON_CONFIG_H */
