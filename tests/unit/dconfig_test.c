/*
 * dconfig_test.c - mptcpextd's configuration parser (userstack/daemon/config.h):
 * a table of good and bad lines with pinned messages, whole files with line
 * numbers, run-time restrictions and the text form of every key.
 */
#include <errno.h>

#include "config.h"
#include "mpx_test.h"

struct line_case {
    const char *line;
    int rc;
    const char *err; /* pinned message ("" on success) */
    const char *key; /* on success: this key's value reads back as |value| */
    const char *value;
};

static const struct line_case line_cases[] = {
    {"", 0, "", NULL, NULL},
    {"   # a comment", 0, "", NULL, NULL},
    {"tun mptcp1", 0, "", "tun", "mptcp1"},
    {"tun=mptcp2", 0, "", "tun", "mptcp2"},
    {"  tun   mptcp3   # trailing comment", 0, "", "tun", "mptcp3"},
    {"tun-mode attach", 0, "", "tun-mode", "attach"},
    {"addr 10.1.1.2", 0, "", "addr", "10.1.1.2"},
    {"addr fd00:1:1::2", 0, "", "addr", "fd00:1:1::2"},
    {"log-level debug", 0, "", "log-level", "debug"},
    {"events-interval 250", 0, "", "events-interval", "250"},
    {"endpoint 10.1.2.2 id 2 subflow", 0, "", "endpoint", "10.1.2.2 id 2 subflow "},
    {"limits subflows 4 add_addr_accepted 3", 0, "", "limits", "subflows 4 add_addr_accepted 3"},
    {"scheduler redundant", 0, "", "scheduler", "redundant"},
    {"cc lia", 0, "", "cc", "lia"},
    {"sndbuf 8M", 0, "", "sndbuf", "8388608"},
    {"rcvbuf 512k", 0, "", "rcvbuf", "524288"},
    {"checksum on", 0, "", "checksum", "on"},
    {"pacing on", 0, "", "pacing", "on"},
    {"offload on", 0, "", "offload", "on"},
    {"tun-napi on", 0, "", "tun-napi", "on"},
    {"tun-napi off", 0, "", "tun-napi", "off"},
    {"tun-napi auto", 0, "", "tun-napi", "auto"},
    {"mptcp off", 0, "", "mptcp", "off"},
    {"allow-join-initial-addr-port no", 0, "", "allow-join-initial-addr-port", "off"},
    {"add-addr-timeout 5", 0, "", "add-addr-timeout", "5"},
    {"path-manager userspace", 0, "", "path-manager", "userspace"},
    {"extkey require", 0, "", "extkey", "require"},
    {"pcap /tmp/x.pcap", 0, "", "pcap", "/tmp/x.pcap"},
    {"name lab1", 0, "", "name", "lab1"},
    /* bad lines */
    {"bogus 1", -EINVAL, "unknown key \"bogus\""},
    {"tun", -EINVAL, "\"tun\" needs a value"},
    {"tun # only a comment", -EINVAL, "\"tun\" needs a value"},
    {"tun averyveryverylongname", -EINVAL, "tun: value too long (max 15)"},
    {"tun-mode maybe", -EINVAL, "tun-mode: unknown value \"maybe\""},
    {"addr 10.1.1", -EINVAL, "addr: invalid address \"10.1.1\""},
    {"log-level loud", -EINVAL, "log-level: unknown value \"loud\""},
    {"events-interval -5", -EINVAL, "events-interval: expected milliseconds 0..60000, got \"-5\""},
    {"events-interval 99999", -EINVAL,
     "events-interval: expected milliseconds 0..60000, got \"99999\""},
    {"endpoint subflow", -EINVAL, "address is required"},
    {"endpoint 10.1.2.2 signal fullmesh", -EINVAL,
     "endpoint: invalid flags or port (port needs signal; signal excludes fullmesh)"},
    {"endpoint 10.1.2.2 port 80 subflow", -EINVAL,
     "endpoint: invalid flags or port (port needs signal; signal excludes fullmesh)"},
    {"limits subflows 9", -EINVAL, "limits: invalid value \"9\" (0..8)"},
    {"limits subflows", -EINVAL, "limits: expected [subflows N] [add_addr_accepted N]"},
    {"limits foo 1", -EINVAL, "limits: unknown \"foo\""},
    {"scheduler fastest", -EINVAL,
     "scheduler: unknown \"fastest\" (default, redundant, roundrobin)"},
    {"cc bbr", -EINVAL, "cc: unknown \"bbr\" (cubic, reno, lia)"},
    {"sndbuf 12x", -EINVAL,
     "sndbuf: expected a size from 4096 bytes to 1G (K/M/G suffixes), got \"12x\""},
    {"rcvbuf 100", -EINVAL,
     "rcvbuf: expected a size from 4096 bytes to 1G (K/M/G suffixes), got \"100\""},
    {"sndbuf 8G", -EINVAL,
     "sndbuf: expected a size from 4096 bytes to 1G (K/M/G suffixes), got \"8G\""},
    {"sndbuf 1025M", -EINVAL,
     "sndbuf: expected a size from 4096 bytes to 1G (K/M/G suffixes), got \"1025M\""},
    {"checksum maybe", -EINVAL, "checksum: expected on or off, got \"maybe\""},
    {"pacing fast", -EINVAL, "pacing: expected on or off, got \"fast\""},
    {"tun-napi 1x", -EINVAL, "tun-napi: expected auto, on or off, got \"1x\""},
    {"add-addr-timeout 1e3", -EINVAL, "add-addr-timeout: expected seconds 0..3600, got \"1e3\""},
    {"path-manager netlink", -EINVAL, "path-manager: unknown value \"netlink\""},
    {"extkey always", -EINVAL, "extkey: unknown value \"always\""},
    {"name a/b", -EINVAL, "name: must not contain '/'"},
    {"tun mp\x01tcp", -EINVAL, "control character in line"},
};

MPX_TEST(dconfig_line_table)
{
    for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
        const struct line_case *c = &line_cases[i];
        struct mpx_dcfg cfg;
        char err[256], val[512];
        int rc;

        mpx_dcfg_init(&cfg);
        rc = mpx_dcfg_line(&cfg, c->line, err, sizeof(err));
        if (rc != c->rc || strcmp(err, c->err))
            printf("  line \"%s\": rc %d err \"%s\"\n", c->line, rc, err);
        CHECK_INT(rc, c->rc);
        CHECK(strcmp(err, c->err) == 0);
        if (rc == 0 && c->key) {
            REQUIRE(mpx_dcfg_get(&cfg, c->key, val, sizeof(val)) == 0);
            if (strcmp(val, c->value))
                printf("  line \"%s\": %s reads back \"%s\"\n", c->line, c->key, val);
            CHECK(strcmp(val, c->value) == 0);
        }
    }
}

MPX_TEST(dconfig_file_reports_line_number)
{
    struct mpx_dcfg cfg;
    char err[256];
    const char *text = "# mptcpextd.conf\n"
                       "tun mptcp0\n"
                       "addr 10.1.1.2\n"
                       "\n"
                       "addr 10.1.2.2\n"
                       "scheduler nope\n"
                       "addr 10.1.3.2\n";
    mpx_dcfg_init(&cfg);
    CHECK_INT(mpx_dcfg_parse_text(&cfg, "test.conf", text, err, sizeof(err)), -EINVAL);
    CHECK(strcmp(err, "test.conf:6: scheduler: unknown \"nope\" (default, redundant, "
                      "roundrobin)") == 0);
    /* lines before the bad one were applied, the ones after were not */
    CHECK_EQ(cfg.n_addrs, 2);
}

/* tun-napi defaults to auto: IFF_NAPI when the device's NAPI can be made
 * threaded (main.c open_tun; tests/test_tun_napi.py checks both outcomes) */
MPX_TEST(dconfig_tun_napi_default_auto)
{
    struct mpx_dcfg cfg;
    char v[16];
    mpx_dcfg_init(&cfg);
    REQUIRE(mpx_dcfg_get(&cfg, "tun-napi", v, sizeof(v)) == 0);
    CHECK(strcmp(v, "auto") == 0);
    CHECK_EQ(cfg.tun_napi, MPX_DCFG_NAPI_AUTO);
}

MPX_TEST(dconfig_file_good_with_crlf)
{
    struct mpx_dcfg cfg;
    char err[256], v[128];
    mpx_dcfg_init(&cfg);
    CHECK_INT(mpx_dcfg_parse_text(&cfg, "x", "addr 10.1.1.2\r\naddr 10.1.2.2\r\ncc reno\r\n", err,
                                  sizeof(err)),
              0);
    CHECK_EQ(cfg.n_addrs, 2);
    REQUIRE(mpx_dcfg_get(&cfg, "addr", v, sizeof(v)) == 0);
    CHECK(strcmp(v, "10.1.1.2 10.1.2.2") == 0);
}

MPX_TEST(dconfig_duplicates_and_limits)
{
    struct mpx_dcfg cfg;
    char err[256], line[64];
    mpx_dcfg_init(&cfg);
    CHECK_INT(mpx_dcfg_line(&cfg, "addr 10.0.0.1", err, sizeof(err)), 0);
    CHECK_INT(mpx_dcfg_line(&cfg, "addr 10.0.0.1", err, sizeof(err)), -EEXIST);
    CHECK(strcmp(err, "addr: 10.0.0.1 given twice") == 0);
    for (int i = 2; i <= 8; i++) {
        snprintf(line, sizeof(line), "addr 10.0.0.%d", i);
        CHECK_INT(mpx_dcfg_line(&cfg, line, err, sizeof(err)), 0);
    }
    CHECK_INT(mpx_dcfg_line(&cfg, "addr 10.0.0.9", err, sizeof(err)), -ENOSPC);
    CHECK(strcmp(err, "addr: at most 8 addresses") == 0);
    CHECK_INT(mpx_dcfg_line(&cfg, "endpoint 10.0.0.1 id 1 subflow", err, sizeof(err)), 0);
    CHECK_INT(mpx_dcfg_line(&cfg, "endpoint 10.0.0.1 id 2 subflow", err, sizeof(err)), -EEXIST);
    CHECK(strcmp(err, "endpoint: address or id already in use") == 0);
}

MPX_TEST(dconfig_runtime_restrictions)
{
    struct mpx_dcfg cfg;
    char err[256];
    mpx_dcfg_init(&cfg);
    cfg.running = true;
    CHECK_INT(mpx_dcfg_set(&cfg, "tun", "x", err, sizeof(err)), -EPERM);
    CHECK(strcmp(err, "tun can only be set at start") == 0);
    CHECK_INT(mpx_dcfg_set(&cfg, "endpoint", "10.0.0.1 subflow", err, sizeof(err)), -EPERM);
    CHECK(strcmp(err, "endpoint can only be set at start (use `mptcpext endpoint add`)") == 0);
    CHECK_INT(mpx_dcfg_set(&cfg, "scheduler", "roundrobin", err, sizeof(err)), 0);
    CHECK(strcmp(cfg.scheduler, "roundrobin") == 0);
    CHECK(mpx_dcfg_key_known("extkey"));
    CHECK(!mpx_dcfg_key_known("nope"));
}

/* What `mptcpext set` may change while the daemon runs, and the message
 * for what it may not (the stack takes mptcp when it is created; buffers
 * and checksum apply to new connections). */
MPX_TEST(dconfig_runtime_keys_table)
{
    static const struct {
        const char *key, *value;
        int rc;
    } cases[] = {
        {"scheduler", "redundant", 0},
        {"cc", "lia", 0},
        {"log-level", "debug", 0},
        {"extkey", "never", 0},
        {"limits", "subflows 3", 0},
        {"events-interval", "50", 0},
        {"add-addr-timeout", "30", 0},
        {"path-manager", "userspace", 0},
        {"sndbuf", "8M", 0},
        {"rcvbuf", "1M", 0},
        {"checksum", "on", 0},
        {"pacing", "on", 0},
        {"mptcp", "off", -EPERM},
        {"offload", "on", -EPERM},
        {"tun-napi", "on", -EPERM},
        {"sndbuf", "2G", -EINVAL},
        {"checksum", "maybe", -EINVAL},
        {"addr", "10.0.0.2", -EPERM},
        {"pcap", "/tmp/x.pcap", -EPERM},
        {"scheduler", "fastest", -EINVAL},
        {"cc", "bbr", -EINVAL},
        {"log-level", "loud", -EINVAL},
        {"extkey", "always", -EINVAL},
    };
    struct mpx_dcfg cfg;
    char err[256];

    mpx_dcfg_init(&cfg);
    cfg.running = true;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = mpx_dcfg_set(&cfg, cases[i].key, cases[i].value, err, sizeof(err));
        CHECK_INT(rc, cases[i].rc);
        CHECK(mpx_dcfg_key_runtime(cases[i].key) == (cases[i].rc != -EPERM));
        if (rc == -EPERM)
            CHECK(strstr(err, "can only be set at start") != NULL);
    }
    CHECK(!mpx_dcfg_key_runtime("nope"));
    CHECK(strcmp(cfg.scheduler, "redundant") == 0 && strcmp(cfg.cc, "lia") == 0);
    CHECK_INT(cfg.log_level, MPX_DLOG_DEBUG);
    CHECK_INT(cfg.extkey_policy, MPX_RPC_EXTKEY_NEVER);
    CHECK_INT(cfg.sndbuf, 8u << 20); /* 2G refused: 8M stays */
    CHECK_INT(cfg.rcvbuf, 1u << 20);
    CHECK(cfg.checksum && cfg.mptcp);
    CHECK_INT(mpx_dcfg_set(&cfg, "mptcp", "off", err, sizeof(err)), -EPERM);
    CHECK(strcmp(err,
                 "mptcp can only be set at start (the stack takes it when mptcpextd "
                 "starts: put it in the config file or on the command line and restart)") == 0);
    /* every key is listed once (`mptcpext get` with no key) */
    int n = 0;
    for (const char *k; (k = mpx_dcfg_key_name(n)); n++)
        CHECK(mpx_dcfg_key_known(k));
    CHECK(n >= 20 && mpx_dcfg_key_name(-1) == NULL);
    CHECK_INT(mpx_dcfg_set(&cfg, "cc", "bbr", err, sizeof(err)), -EINVAL);
    CHECK(strcmp(err, "cc: unknown \"bbr\" (cubic, reno, lia)") == 0);
    /* before start the same keys are accepted */
    mpx_dcfg_init(&cfg);
    CHECK_INT(mpx_dcfg_set(&cfg, "sndbuf", "8M", err, sizeof(err)), 0);
    CHECK_INT(mpx_dcfg_set(&cfg, "checksum", "on", err, sizeof(err)), 0);
    CHECK(cfg.sndbuf == 8u << 20 && cfg.checksum);
}

MPX_TEST(dconfig_long_line_rejected)
{
    struct mpx_dcfg cfg;
    char line[700], err[256];
    memset(line, 'a', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    mpx_dcfg_init(&cfg);
    CHECK_INT(mpx_dcfg_line(&cfg, line, err, sizeof(err)), -EINVAL);
    CHECK(strcmp(err, "line too long (max 511 bytes)") == 0);
    CHECK_INT(mpx_dcfg_parse_text(&cfg, "f", line, err, sizeof(err)), -EINVAL);
    CHECK(strcmp(err, "f:1: line too long") == 0);
}

MPX_TEST(dconfig_load_missing_file)
{
    struct mpx_dcfg cfg;
    char err[256];
    mpx_dcfg_init(&cfg);
    CHECK_INT(mpx_dcfg_load(&cfg, "/nonexistent/mptcpextd.conf", err, sizeof(err)), -ENOENT);
    CHECK(strcmp(err, "/nonexistent/mptcpextd.conf: No such file or directory") == 0);
}
