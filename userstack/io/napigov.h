/*
 * napigov.h - when a TUN opened with IFF_NAPI (tun.h MPX_TUN_F_NAPI) should
 * have its NAPI threaded: the "auto" of the daemon's tun-napi setting.
 *
 * Threaded NAPI pays when we write in bursts: the kernel's NAPI thread takes
 * a burst through GRO and forwards the merged skbs on another CPU, for one
 * thread wake-up per burst. When each loop step writes one or two packets (a
 * handshake, a request and its response, a receiver's ACKs) nothing merges,
 * and the wake-up sits on the critical path of every exchange: about a fifth
 * of the connect+close rate through two engines (bench/README.md, "Threaded
 * NAPI only for bursts"). Unthreaded, the NAPI poll runs inside our write
 * (the softirq at the write's local_bh_enable), as on a plain TUN.
 *
 * The daemon tells the governor how many packets each loop step wrote; the
 * governor decides from the mean burst over windows of MPX_NAPIGOV_WINDOW_NS,
 * with hysteresis (ON_BURST / OFF_BURST) and at most one switch per
 * MPX_NAPIGOV_DWELL_NS (a switch to threaded starts a kernel thread). Pure:
 * no syscalls, time is an argument; the caller writes the setting
 * (mpx_tun_set_napi_threaded).
 */
#ifndef MPX_NAPIGOV_H
#define MPX_NAPIGOV_H

#include <stdbool.h>
#include <stdint.h>

#define MPX_NAPIGOV_WINDOW_NS  100000000ull  /* 100 ms of writing steps */
#define MPX_NAPIGOV_DWELL_NS   1000000000ull /* 1 s between switches */
#define MPX_NAPIGOV_ON_BURST   8u            /* mean packets per step to go threaded */
#define MPX_NAPIGOV_OFF_BURST  3u            /* below this mean, back to the write's own context */
#define MPX_NAPIGOV_MIN_BURSTS 8u            /* fewer steps in a window never go threaded */

struct mpx_napigov {
    uint64_t win_start;   /* ns; the window opens at its first writing step */
    uint64_t last_switch; /* ns, valid once |switched| */
    uint64_t pkts, steps; /* this window (steps 0: none open) */
    bool switched;        /* the governor has switched once */
    bool threaded;        /* what the governor last decided */
};

void mpx_napigov_init(struct mpx_napigov *g, bool threaded);
/* One loop step wrote |pkts| packets (0 is ignored: a step that wrote
 * nothing is no burst). Returns 1 when the NAPI should become threaded now,
 * -1 when it should stop being threaded, 0 to leave it. */
int mpx_napigov_step(struct mpx_napigov *g, unsigned pkts, uint64_t now);

#endif
