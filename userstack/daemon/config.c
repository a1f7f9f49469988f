/*
 * config.c - mptcpextd settings: parsing, validation and printing (config.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc.h"
#include "err.h"
#include "mptcp_sched.h"

#define ERR(code, ...)                                                                             \
    do {                                                                                           \
        snprintf(err, errcap, __VA_ARGS__);                                                        \
        return (code);                                                                             \
    } while (0)

void mpx_dcfg_init(struct mpx_dcfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->tun, sizeof(cfg->tun), "mptcp0");
    cfg->log_level = MPX_DLOG_WARN;
    cfg->events_interval_ms = 100;
    mpx_pm_cfg_init(&cfg->pm);
    snprintf(cfg->scheduler, sizeof(cfg->scheduler), "default");
    snprintf(cfg->cc, sizeof(cfg->cc), "cubic");
    cfg->sndbuf = 4u << 20;
    cfg->rcvbuf = 4u << 20;
    cfg->mptcp = true;
    cfg->pacing = false; /* like the stack's default (mpx_stack_config_default) */
    cfg->extkey_policy = MPX_RPC_EXTKEY_PREFER; /* DESIGN decision 5 */
}

static const char *const log_names[] = {"error", "warn", "info", "debug"};

const char *mpx_dcfg_log_name(int level)
{
    if (level < 0 || level > MPX_DLOG_DEBUG)
        return "?";
    return log_names[level];
}

/* ---- value parsers ---------------------------------------------------------- */

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
        *out = false;
    else
        return -EINVAL;
    return 0;
}

static int parse_ulong(const char *v, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (!*v || *v == '-' || *v == '+' || *v == ' ')
        return -EINVAL;
    errno = 0;
    *out = strtoull(v, &end, 10);
    if (errno || *end || *out > max)
        return -EINVAL;
    return 0;
}

/* Sizes: bytes with an optional K, M or G (powers of 1024), 4096..1G (the
 * stack's MPX_STACK_BUF_MAX: one connection's buffer, allocated whole). */
#define SIZE_MAX_BYTES (1ull << 30)
static int parse_size(const char *v, uint32_t *out)
{
    char num[32];
    size_t n = strlen(v);
    unsigned long long x, mul = 1;

    if (n == 0 || n >= sizeof(num))
        return -EINVAL;
    memcpy(num, v, n + 1);
    switch (num[n - 1]) {
    case 'k':
    case 'K':
        mul = 1024;
        break;
    case 'm':
    case 'M':
        mul = 1024 * 1024;
        break;
    case 'g':
    case 'G':
        mul = 1024ull * 1024 * 1024;
        break;
    }
    if (mul != 1)
        num[n - 1] = '\0';
    if (parse_ulong(num, UINT32_MAX, &x) || x * mul > SIZE_MAX_BYTES || x * mul < 4096)
        return -EINVAL;
    *out = (uint32_t)(x * mul);
    return 0;
}

/* Split |v| into words (in place in |buf|). */
static int split(const char *v, char *buf, size_t cap, char **argv, int max)
{
    int n = 0;
    char *save = NULL;
    snprintf(buf, cap, "%s", v);
    for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (n == max)
            return -E2BIG;
        argv[n++] = w;
    }
    return n;
}

/* ---- setters ------------------------------------------------------------------ */

void mpx_dcfg_endp_to_pm(const struct mpx_rpc_endp *in, struct mpx_pm_endpoint *out)
{
    memset(out, 0, sizeof(*out));
    out->id = in->id;
    out->flags = in->flags;
    out->port = in->port;
    out->ifindex = in->ifindex;
    memcpy(out->ifname, in->ifname, sizeof(out->ifname));
    out->ifname[sizeof(out->ifname) - 1] = '\0';
    out->addr.family = in->addr.family;
    memcpy(out->addr.a, in->addr.a, sizeof(out->addr.a));
}

void mpx_dcfg_endp_from_pm(const struct mpx_pm_endpoint *in, struct mpx_rpc_endp *out)
{
    memset(out, 0, sizeof(*out));
    out->id = in->id;
    out->flags = in->flags;
    out->port = in->port;
    out->ifindex = in->ifindex;
    memcpy(out->ifname, in->ifname, sizeof(out->ifname));
    out->ifname[sizeof(out->ifname) - 1] = '\0';
    out->addr.family = in->addr.family;
    memcpy(out->addr.a, in->addr.a, sizeof(out->addr.a));
}

static int set_endpoint(struct mpx_dcfg *cfg, const char *v, char *err, size_t errcap)
{
    char buf[MPX_RPC_VALUE_MAX], *argv[16];
    struct mpx_rpc_endp e;
    struct mpx_pm_endpoint pe;
    int argc = split(v, buf, sizeof(buf), argv, 16), rc;

    if (argc < 0)
        ERR(-EINVAL, "endpoint: too many words");
    rc = mpx_rpc_endp_parse(MPX_RPC_ENDP_VERB_ADD, argc, argv, true, &e, err, errcap);
    if (rc)
        return rc;
    mpx_dcfg_endp_to_pm(&e, &pe);
    rc = mpx_pm_endpoint_add(&cfg->pm, &pe);
    if (rc < 0)
        ERR(mpx_rpc_errno(rc), "endpoint: %s",
            rc == MPX_ERR_EXIST     ? "address or id already in use"
            : rc == MPX_ERR_NOSPACE ? "no space for another endpoint (8 at most)"
                                    : "invalid flags or port (port needs signal; signal "
                                      "excludes fullmesh)");
    return 0;
}

/* `ip mptcp limits set [subflows N] [add_addr_accepted N]` (0..8 each). */
static int set_limits(struct mpx_dcfg *cfg, const char *v, char *err, size_t errcap)
{
    char buf[MPX_RPC_VALUE_MAX], *argv[8];
    int argc = split(v, buf, sizeof(buf), argv, 8), sub = -1, acc = -1;
    unsigned long long x;

    if (argc <= 0 || argc % 2)
        ERR(-EINVAL, "limits: expected [subflows N] [add_addr_accepted N]");
    for (int i = 0; i < argc; i += 2) {
        if (parse_ulong(argv[i + 1], MPX_PM_LIMIT_MAX, &x))
            ERR(-EINVAL, "limits: invalid value \"%s\" (0..%d)", argv[i + 1], MPX_PM_LIMIT_MAX);
        if (!strcmp(argv[i], "subflows") || !strcmp(argv[i], "subflow"))
            sub = (int)x;
        else if (!strcmp(argv[i], "add_addr_accepted"))
            acc = (int)x;
        else
            ERR(-EINVAL, "limits: unknown \"%s\"", argv[i]);
    }
    if (mpx_pm_limits_set(&cfg->pm, sub, acc))
        ERR(-EINVAL, "limits: out of range");
    return 0;
}

static int set_addr(struct mpx_dcfg *cfg, const char *v, char *err, size_t errcap)
{
    struct mpx_rpc_addr a;
    if (mpx_rpc_addr_parse(v, &a))
        ERR(-EINVAL, "addr: invalid address \"%s\"", v);
    for (unsigned i = 0; i < cfg->n_addrs; i++)
        if (!memcmp(&cfg->addrs[i], &a, sizeof(a)))
            ERR(-EEXIST, "addr: %s given twice", v);
    if (cfg->n_addrs == MPX_DCFG_ADDR_MAX)
        ERR(-ENOSPC, "addr: at most %d addresses", MPX_DCFG_ADDR_MAX);
    cfg->addrs[cfg->n_addrs++] = a;
    return 0;
}

static int set_string(char *dst, size_t cap, const char *key, const char *v, char *err,
                      size_t errcap)
{
    if (!*v)
        ERR(-EINVAL, "%s: empty value", key);
    if (strlen(v) >= cap)
        ERR(-EINVAL, "%s: value too long (max %zu)", key, cap - 1);
    snprintf(dst, cap, "%s", v);
    return 0;
}

static int set_enum(const char *key, const char *v, const char *const *names, int n, int *out,
                    char *err, size_t errcap)
{
    for (int i = 0; i < n; i++)
        if (names[i] && !strcmp(v, names[i])) {
            *out = i;
            return 0;
        }
    ERR(-EINVAL, "%s: unknown value \"%s\"", key, v);
}

static const char *const tun_modes[] = {"auto", "attach", "create"};
static const char *const napi_names[] = {"auto", "off", "on"};
static const char *const extkey_names[] = {NULL, "never", "prefer", "require"};
static const char *const pm_names[] = {"kernel", "userspace"};

enum key_id {
    K_NAME,
    K_SOCKET,
    K_TUN,
    K_TUN_MODE,
    K_ADDR,
    K_LOG,
    K_PCAP,
    K_EVENTS,
    K_EVENTS_IVL,
    K_ENDPOINT,
    K_LIMITS,
    K_SCHED,
    K_CC,
    K_SNDBUF,
    K_RCVBUF,
    K_CSUM,
    K_MPTCP,
    K_JOINID0,
    K_ADDTIMEOUT,
    K_PM,
    K_EXTKEY,
    K_OFFLOAD,
    K_KEYLOG,
    K_PACING,
    K_TUN_NAPI,
};

static const struct {
    const char *name;
    bool runtime;
} keys[] = {
    [K_NAME] = {"name", false},
    [K_SOCKET] = {"socket", false},
    [K_TUN] = {"tun", false},
    [K_TUN_MODE] = {"tun-mode", false},
    [K_ADDR] = {"addr", false},
    [K_LOG] = {"log-level", true},
    [K_PCAP] = {"pcap", false},
    [K_EVENTS] = {"events", false},
    [K_EVENTS_IVL] = {"events-interval", true},
    [K_ENDPOINT] = {"endpoint", false}, /* at run time: `mptcpext endpoint add` */
    [K_LIMITS] = {"limits", true},
    [K_SCHED] = {"scheduler", true},
    [K_CC] = {"cc", true},
    /* like the kernel's sysctls, taken by connections made afterwards
     * (mpx_stack_set_bufs / mpx_stack_set_checksum) */
    [K_SNDBUF] = {"sndbuf", true},
    [K_RCVBUF] = {"rcvbuf", true},
    [K_CSUM] = {"checksum", true},
    /* the stack decides at creation whether it is an MPTCP host at all */
    [K_MPTCP] = {"mptcp", false},
    [K_JOINID0] = {"allow-join-initial-addr-port", true},
    [K_ADDTIMEOUT] = {"add-addr-timeout", true},
    [K_PM] = {"path-manager", true},
    [K_EXTKEY] = {"extkey", true},
    [K_OFFLOAD] = {"offload", false}, /* the TUN is opened with or without vnet headers */
    [K_KEYLOG] = {"keylog", false},   /* opened once, mode 0600 (keylog.h) */
    [K_PACING] = {"pacing", true},    /* new connections (mpx_stack_set_pacing) */
    /* IFF_NAPI is chosen when the TUN is opened */
    [K_TUN_NAPI] = {"tun-napi", false},
};
#define N_KEYS ((int)(sizeof(keys) / sizeof(keys[0])))

static int key_index(const char *key)
{
    for (int i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].name, key))
            return i;
    return -1;
}

bool mpx_dcfg_key_known(const char *key)
{
    return key_index(key) >= 0;
}

const char *mpx_dcfg_key_name(int i)
{
    return i >= 0 && i < N_KEYS ? keys[i].name : NULL;
}

bool mpx_dcfg_key_runtime(const char *key)
{
    int k = key_index(key);
    return k >= 0 && keys[k].runtime;
}

/* Why a startup-only key is refused at run time, and what to do instead. */
static const char *startup_hint(int k)
{
    switch (k) {
    case K_ENDPOINT:
        return " (use `mptcpext endpoint add`)";
    case K_MPTCP:
        return " (the stack takes it when mptcpextd starts: put it in the config file or on "
               "the command line and restart)";
    case K_OFFLOAD:
        return " (the TUN is opened with or without vnet headers when mptcpextd starts: put "
               "it in the config file or on the command line and restart)";
    case K_TUN_NAPI:
        return " (the TUN is opened with or without IFF_NAPI when mptcpextd starts: put it "
               "in the config file or on the command line and restart)";
    default:
        return "";
    }
}

static int set_misc(struct mpx_dcfg *cfg, int k, const char *v, char *err, size_t errcap)
{
    unsigned long long x;
    int e;

    switch (k) {
    case K_EVENTS_IVL:
        if (parse_ulong(v, 60000, &x))
            ERR(-EINVAL, "events-interval: expected milliseconds 0..60000, got \"%s\"", v);
        cfg->events_interval_ms = (unsigned)x;
        return 0;
    case K_SCHED:
        if (!mpx_sched_find(v))
            ERR(-EINVAL, "scheduler: unknown \"%s\" (default, redundant, roundrobin)", v);
        return set_string(cfg->scheduler, sizeof(cfg->scheduler), "scheduler", v, err, errcap);
    case K_CC:
        if (!mpx_cc_find(v))
            ERR(-EINVAL, "cc: unknown \"%s\" (cubic, reno, lia)", v);
        return set_string(cfg->cc, sizeof(cfg->cc), "cc", v, err, errcap);
    case K_SNDBUF:
    case K_RCVBUF:
        if (parse_size(v, k == K_SNDBUF ? &cfg->sndbuf : &cfg->rcvbuf))
            ERR(-EINVAL, "%s: expected a size from 4096 bytes to 1G (K/M/G suffixes), got \"%s\"",
                keys[k].name, v);
        return 0;
    case K_ADDTIMEOUT:
        if (parse_ulong(v, 3600, &x))
            ERR(-EINVAL, "add-addr-timeout: expected seconds 0..3600, got \"%s\"", v);
        cfg->pm.add_addr_timeout_ns = x * 1000000000ull;
        return 0;
    case K_PM:
        if (set_enum("path-manager", v, pm_names, 2, &e, err, errcap))
            return -EINVAL;
        cfg->pm.pm_type = (uint8_t)e;
        return 0;
    case K_EXTKEY:
        if (set_enum("extkey", v, extkey_names, 4, &e, err, errcap))
            return -EINVAL;
        cfg->extkey_policy = (uint8_t)e;
        return 0;
    }
    ERR(-EINVAL, "unknown key");
}

static int set_bool_key(struct mpx_dcfg *cfg, int k, const char *v, char *err, size_t errcap)
{
    bool b;
    if (parse_bool(v, &b))
        ERR(-EINVAL, "%s: expected on or off, got \"%s\"", keys[k].name, v);
    if (k == K_CSUM)
        cfg->checksum = b;
    else if (k == K_OFFLOAD)
        cfg->offload = b;
    else if (k == K_MPTCP)
        cfg->mptcp = b;
    else if (k == K_PACING)
        cfg->pacing = b;
    else
        cfg->pm.allow_join_initial_addr_port = b;
    return 0;
}

int mpx_dcfg_set(struct mpx_dcfg *cfg, const char *key, const char *v, char *err, size_t errcap)
{
    int k = key_index(key), e;
    bool b;

    if (errcap)
        err[0] = '\0';
    if (k < 0)
        ERR(-EINVAL, "unknown key \"%s\"", key);
    if (cfg->running && !keys[k].runtime)
        ERR(-EPERM, "%s can only be set at start%s", key, startup_hint(k));
    switch (k) {
    case K_NAME:
        if (strchr(v, '/'))
            ERR(-EINVAL, "name: must not contain '/'");
        return set_string(cfg->name, sizeof(cfg->name), key, v, err, errcap);
    case K_SOCKET:
        return set_string(cfg->socket_path, sizeof(cfg->socket_path), key, v, err, errcap);
    case K_TUN:
        return set_string(cfg->tun, sizeof(cfg->tun), key, v, err, errcap);
    case K_TUN_MODE:
        if (set_enum(key, v, tun_modes, 3, &e, err, errcap))
            return -EINVAL;
        cfg->tun_mode = (uint8_t)e;
        return 0;
    case K_ADDR:
        return set_addr(cfg, v, err, errcap);
    case K_LOG:
        return set_enum(key, v, log_names, 4, &cfg->log_level, err, errcap);
    case K_PCAP:
        return set_string(cfg->pcap, sizeof(cfg->pcap), key, v, err, errcap);
    case K_EVENTS:
        return set_string(cfg->events, sizeof(cfg->events), key, v, err, errcap);
    case K_KEYLOG:
        return set_string(cfg->keylog, sizeof(cfg->keylog), key, v, err, errcap);
    case K_ENDPOINT:
        return set_endpoint(cfg, v, err, errcap);
    case K_LIMITS:
        return set_limits(cfg, v, err, errcap);
    case K_CSUM:
    case K_MPTCP:
    case K_JOINID0:
    case K_OFFLOAD:
    case K_PACING:
        return set_bool_key(cfg, k, v, err, errcap);
    case K_TUN_NAPI:
        if (!strcmp(v, "auto"))
            cfg->tun_napi = MPX_DCFG_NAPI_AUTO;
        else if (!parse_bool(v, &b))
            cfg->tun_napi = b ? MPX_DCFG_NAPI_ON : MPX_DCFG_NAPI_OFF;
        else
            ERR(-EINVAL, "tun-napi: expected auto, on or off, got \"%s\"", v);
        return 0;
    default:
        return set_misc(cfg, k, v, err, errcap);
    }
}

int mpx_dcfg_line(struct mpx_dcfg *cfg, const char *line, char *err, size_t errcap)
{
    char buf[512], *p, *key, *val, *end;
    size_t n = strlen(line);

    if (errcap)
        err[0] = '\0';
    if (n >= sizeof(buf))
        ERR(-EINVAL, "line too long (max %zu bytes)", sizeof(buf) - 1);
    memcpy(buf, line, n + 1);
    for (p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            ERR(-EINVAL, "control character in line");
    /* comments: whole line '#', or " #" after the value */
    for (p = buf; *p; p++)
        if (*p == '#' && (p == buf || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    end = buf + strlen(buf);
    while (end > buf && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    key = buf;
    while (*key == ' ' || *key == '\t')
        key++;
    if (!*key)
        return 0;
    val = key + strcspn(key, " \t=");
    if (*val) {
        *val++ = '\0';
        val += strspn(val, " \t=");
    }
    if (!*val)
        ERR(-EINVAL, "\"%s\" needs a value", key);
    return mpx_dcfg_set(cfg, key, val, err, errcap);
}

int mpx_dcfg_parse_text(struct mpx_dcfg *cfg, const char *name, const char *text, char *err,
                        size_t errcap)
{
    char line[600], msg[300];
    unsigned lineno = 0;
    const char *p = text;

    while (*p) {
        size_t n = strcspn(p, "\n");
        lineno++;
        if (n >= sizeof(line)) {
            snprintf(err, errcap, "%s:%u: line too long", name, lineno);
            return -EINVAL;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (p[n] == '\n');
        if (memchr(line, '\0', n) != NULL && strlen(line) != n) {
            snprintf(err, errcap, "%s:%u: NUL byte in line", name, lineno);
            return -EINVAL;
        }
        int rc = mpx_dcfg_line(cfg, line, msg, sizeof(msg));
        if (rc) {
            snprintf(err, errcap, "%s:%u: %s", name, lineno, msg);
            return rc;
        }
    }
    return 0;
}

int mpx_dcfg_load(struct mpx_dcfg *cfg, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    char *text;
    size_t len;
    int rc;

    if (!f)
        ERR(-errno, "%s: %s", path, strerror(errno));
    text = malloc(1u << 20);
    if (!text) {
        fclose(f);
        ERR(-ENOMEM, "%s: out of memory", path);
    }
    len = fread(text, 1, (1u << 20) - 1, f);
    if (!feof(f)) {
        rc = ferror(f) ? -EIO : -EFBIG;
        fclose(f);
        free(text);
        ERR(rc, "%s: %s", path, rc == -EIO ? "read error" : "file larger than 1 MiB");
    }
    fclose(f);
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        ERR(-EINVAL, "%s: NUL byte in file", path);
    }
    rc = mpx_dcfg_parse_text(cfg, path, text, err, errcap);
    free(text);
    return rc;
}

static void get_endpoints(const struct mpx_dcfg *cfg, char *buf, size_t cap)
{
    struct mpx_pm_endpoint eps[MPX_PM_ENDP_MAX];
    size_t n = mpx_pm_endpoint_list(&cfg->pm, eps, MPX_PM_ENDP_MAX), off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++) {
        size_t l = mpx_pm_endpoint_fmt(&eps[i], buf + off, cap - off);
        off += l;
        if (off < cap - 1 && i + 1 < n)
            buf[off++] = ';', buf[off] = '\0';
    }
}

int mpx_dcfg_get(const struct mpx_dcfg *cfg, const char *key, char *buf, size_t cap)
{
    int k = key_index(key);
    char a[64];

    if (k < 0 || cap == 0)
        return -EINVAL;
    buf[0] = '\0';
    switch (k) {
    case K_NAME:
        snprintf(buf, cap, "%s", cfg->name);
        break;
    case K_SOCKET:
        snprintf(buf, cap, "%s", cfg->socket_path);
        break;
    case K_TUN:
        snprintf(buf, cap, "%s", cfg->tun);
        break;
    case K_TUN_MODE:
        snprintf(buf, cap, "%s", tun_modes[cfg->tun_mode]);
        break;
    case K_ADDR:
        for (unsigned i = 0; i < cfg->n_addrs; i++) {
            size_t l = strlen(buf);
            snprintf(buf + l, cap - l, "%s%s", i ? " " : "",
                     mpx_rpc_addr_fmt(&cfg->addrs[i], a, sizeof(a)));
        }
        break;
    case K_LOG:
        snprintf(buf, cap, "%s", mpx_dcfg_log_name(cfg->log_level));
        break;
    case K_PCAP:
        snprintf(buf, cap, "%s", cfg->pcap);
        break;
    case K_EVENTS:
        snprintf(buf, cap, "%s", cfg->events);
        break;
    case K_KEYLOG:
        snprintf(buf, cap, "%s", cfg->keylog);
        break;
    case K_EVENTS_IVL:
        snprintf(buf, cap, "%u", cfg->events_interval_ms);
        break;
    case K_ENDPOINT:
        get_endpoints(cfg, buf, cap);
        break;
    case K_LIMITS:
        snprintf(buf, cap, "subflows %u add_addr_accepted %u", cfg->pm.limit_subflows,
                 cfg->pm.limit_add_addr_accepted);
        break;
    case K_SCHED:
        snprintf(buf, cap, "%s", cfg->scheduler);
        break;
    case K_CC:
        snprintf(buf, cap, "%s", cfg->cc);
        break;
    case K_SNDBUF:
        snprintf(buf, cap, "%u", cfg->sndbuf);
        break;
    case K_RCVBUF:
        snprintf(buf, cap, "%u", cfg->rcvbuf);
        break;
    case K_CSUM:
        snprintf(buf, cap, "%s", cfg->checksum ? "on" : "off");
        break;
    case K_MPTCP:
        snprintf(buf, cap, "%s", cfg->mptcp ? "on" : "off");
        break;
    case K_JOINID0:
        snprintf(buf, cap, "%s", cfg->pm.allow_join_initial_addr_port ? "on" : "off");
        break;
    case K_ADDTIMEOUT:
        snprintf(buf, cap, "%llu",
                 (unsigned long long)(cfg->pm.add_addr_timeout_ns / 1000000000ull));
        break;
    case K_PM:
        snprintf(buf, cap, "%s", pm_names[cfg->pm.pm_type ? 1 : 0]);
        break;
    case K_EXTKEY:
        snprintf(buf, cap, "%s", extkey_names[cfg->extkey_policy]);
        break;
    case K_OFFLOAD:
        snprintf(buf, cap, "%s", cfg->offload ? "on" : "off");
        break;
    case K_PACING:
        snprintf(buf, cap, "%s", cfg->pacing ? "on" : "off");
        break;
    case K_TUN_NAPI:
        snprintf(buf, cap, "%s", napi_names[cfg->tun_napi % 3]);
        break;
    }
    return 0;
}
