/*
 * fuzz_rpc.c - libFuzzer target for what mptcpextd parses from outside:
 * control-socket messages (mpx_rpc_decode, both directions, 0..2 fds),
 * `ip mptcp endpoint` argument lists (mpx_rpc_endp_parse) and config-file
 * text (mpx_dcfg_parse_text).
 *
 * The first input byte picks the parser. A message that decodes is encoded
 * again from its body and must decode to the same body (round trip), and
 * nothing may read beyond the input (ASan). The shared sources are compiled
 * into this target directly: the fuzz rule links the core only.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userstack/daemon/config.c"
#undef ERR /* both files define their own */
#include "../../userstack/rpc.c"

#define REQ(cond)                                                                                  \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_msg(const uint8_t *data, size_t size, int nfds)
{
    static uint8_t body[MPX_RPC_BODY_MAX], again[MPX_RPC_MSG_MAX], body2[MPX_RPC_BODY_MAX];
    for (int dir = MPX_RPC_TO_DAEMON; dir <= MPX_RPC_TO_CLIENT; dir++) {
        struct mpx_rpc_hdr h, h2;
        const char *why = NULL;
        int rc = mpx_rpc_decode(data, size, nfds, dir, &h, body, sizeof(body), &why);
        size_t blen, n;

        REQ(why != NULL);
        if (rc != MPX_RPC_OK) {
            REQ(rc < 0 && *why);
            continue;
        }
        blen = size - sizeof(h);
        n = mpx_rpc_encode(again, sizeof(again), h.type, h.id, body, blen);
        REQ(n == size);
        REQ(memcmp(again, data, size) == 0);
        REQ(mpx_rpc_decode(again, n, nfds, dir, &h2, body2, sizeof(body2), &why) == MPX_RPC_OK);
        REQ(memcmp(body, body2, blen) == 0);
    }
}

static void fuzz_endp(const uint8_t *data, size_t size)
{
    char buf[512], *argv[64], err[160], *save = NULL;
    struct mpx_rpc_endp e;
    int argc = 0;

    if (size == 0)
        return;
    if (size >= sizeof(buf))
        size = sizeof(buf) - 1;
    memcpy(buf, data + 1, size ? size - 1 : 0);
    buf[size ? size - 1 : 0] = '\0';
    for (char *w = strtok_r(buf, " \t\n", &save); w && argc < 64;
         w = strtok_r(NULL, " \t\n", &save))
        argv[argc++] = w;
    (void)mpx_rpc_endp_parse((enum mpx_rpc_endp_verb)(1 + data[0] % 3), argc, argv, false, &e, err,
                             sizeof(err));
    REQ(memchr(err, '\0', sizeof(err)) != NULL);
}

static void fuzz_config(const uint8_t *data, size_t size)
{
    struct mpx_dcfg cfg;
    char err[400];
    char *text = malloc(size + 1);

    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    mpx_dcfg_init(&cfg);
    /* never resolve devices or touch files: the parser only (the fuzzer
     * may write "dev X" lines; if_nametoindex is harmless) */
    (void)mpx_dcfg_parse_text(&cfg, "fuzz", text, err, sizeof(err));
    REQ(cfg.n_addrs <= MPX_DCFG_ADDR_MAX);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
    case 1:
        fuzz_msg(data + 1, size - 1, (data[0] >> 2) % 3);
        break;
    case 2:
        fuzz_endp(data + 1, size - 1);
        break;
    default:
        fuzz_config(data + 1, size - 1);
        break;
    }
    return 0;
}
