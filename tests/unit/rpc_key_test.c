/*
 * rpc_key_test.c - the external-key parts of the control protocol (issue 8):
 * CONN_SETKEY / CONN_ROTATE round trips and rejections, the key fields of
 * CONN_INFO, and the pre-shared key file reader shared by the CLI and the
 * shim (mpx_rpc_psk_read: permissions, type, hex/raw forms, sizes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpx_test.h"
#include "rpc.h"

static size_t setkey_body(struct mpx_rpc_conn_key *k, uint16_t len)
{
    memset(k, 0, sizeof(*k));
    k->conn = 5;
    k->key_len = len;
    for (uint16_t i = 0; i < len; i++)
        k->key[i] = (uint8_t)(0x40 + i);
    return sizeof(*k);
}

static int decode(uint16_t type, const void *body, size_t blen, void *out, size_t cap,
                  const char **why)
{
    static uint8_t msg[MPX_RPC_MSG_MAX];
    struct mpx_rpc_hdr h;
    size_t len = mpx_rpc_encode(msg, sizeof(msg), type, 77, body, blen);
    if (!len)
        return 1000; /* encoder refused: not a decoder verdict */
    enum mpx_rpc_dir dir = type < 32 ? MPX_RPC_TO_CLIENT : MPX_RPC_TO_DAEMON;
    return mpx_rpc_decode(msg, len, 0, dir, &h, out, cap, why);
}

MPX_TEST(rpc_key_setkey_roundtrip_lengths)
{
    static const uint16_t lens[] = {16, 32, 64};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct mpx_rpc_conn_key k, out;
        size_t blen = setkey_body(&k, lens[i]);
        CHECK_INT(decode(MPX_RPC_CONN_SETKEY, &k, blen, &out, sizeof(out), NULL), MPX_RPC_OK);
        CHECK_MEM(&out, &k, sizeof(k));
    }
    CHECK(strcmp(mpx_rpc_type_name(MPX_RPC_CONN_SETKEY), "CONN_SETKEY") == 0);
    CHECK(strcmp(mpx_rpc_type_name(MPX_RPC_CONN_ROTATE), "CONN_ROTATE") == 0);
}

MPX_TEST(rpc_key_setkey_malformed_table)
{
    static const struct {
        const char *name;
        uint16_t len;
        uint32_t conn;
        uint16_t flags;
        uint8_t tail; /* a non-zero byte after the key */
        int expect;
    } cases[] = {
        {"key 15 bytes", 15, 5, 0, 0, MPX_RPC_E_RANGE},
        {"key 65 bytes", 65, 5, 0, 0, MPX_RPC_E_RANGE},
        {"key 0 bytes", 0, 5, 0, 0, MPX_RPC_E_RANGE},
        {"conn 0", 32, 0, 0, 0, MPX_RPC_E_RANGE},
        {"flags", 32, 5, 1, 0, MPX_RPC_E_RANGE},
        {"bytes after the key", 32, 5, 0, 1, MPX_RPC_E_PAD},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mpx_rpc_conn_key k, out;
        const char *why = NULL;
        size_t blen = setkey_body(&k, cases[i].len > 64 ? 64 : cases[i].len);
        int rc;
        k.key_len = cases[i].len;
        k.conn = cases[i].conn;
        k.flags = cases[i].flags;
        if (cases[i].tail)
            k.key[40] = 0xff;
        rc = decode(MPX_RPC_CONN_SETKEY, &k, blen, &out, sizeof(out), &why);
        if (rc != cases[i].expect)
            printf("  case \"%s\": got %s\n", cases[i].name, mpx_rpc_reject_name(rc));
        CHECK_INT(rc, cases[i].expect);
        CHECK(why && *why);
    }
}

MPX_TEST(rpc_key_rotate_conn0_rejected)
{
    struct mpx_rpc_conn_ref r = {0, 0}, out;
    CHECK_INT(decode(MPX_RPC_CONN_ROTATE, &r, sizeof(r), &out, sizeof(out), NULL), MPX_RPC_E_RANGE);
    r.conn = 3;
    CHECK_INT(decode(MPX_RPC_CONN_ROTATE, &r, sizeof(r), &out, sizeof(out), NULL), MPX_RPC_OK);
}

/* The key fields of CONN_INFO reach the CLI unchanged; states beyond the
 * last and non-zero padding are rejected. */
MPX_TEST(rpc_key_conn_info_fields)
{
    static struct mpx_rpc_conn_info ci, out;
    size_t blen = mpx_rpc_body_size(MPX_RPC_CONN_INFO, 0);
    static const uint8_t fpr[8] = {0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x70, 0x81};

    memset(&ci, 0, sizeof(ci));
    ci.conn = 9;
    ci.key_state = MPX_RPC_KEY_EXT_ACTIVE;
    memcpy(ci.key_fpr, fpr, sizeof(fpr));
    ci.key_gen = 3;
    ci.key_id = 1;
    CHECK_INT(decode(MPX_RPC_CONN_INFO, &ci, blen, &out, sizeof(out), NULL), MPX_RPC_OK);
    CHECK_MEM(out.key_fpr, fpr, sizeof(fpr));
    CHECK_EQ(out.key_gen, 3);
    CHECK_EQ(out.key_id, 1);
    ci.key_state = MPX_RPC_KEY_STATE_MAX;
    CHECK_INT(decode(MPX_RPC_CONN_INFO, &ci, blen, &out, sizeof(out), NULL), MPX_RPC_OK);
    ci.key_state = MPX_RPC_KEY_STATE_MAX + 1;
    CHECK_INT(decode(MPX_RPC_CONN_INFO, &ci, blen, &out, sizeof(out), NULL), MPX_RPC_E_RANGE);
    ci.key_state = MPX_RPC_KEY_EXT_WAIT;
    ci.pad2[1] = 1;
    CHECK_INT(decode(MPX_RPC_CONN_INFO, &ci, blen, &out, sizeof(out), NULL), MPX_RPC_E_PAD);
}

/* ---- mpx_rpc_psk_read ------------------------------------------------------ */

/* A temporary file with |data| and |mode|; its path in |path|. */
static void tmpfile_with(char *path, size_t cap, const void *data, size_t n, mode_t mode)
{
    int fd;
    snprintf(path, cap, "/tmp/mpx_psk_test_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return;
    if (n && write(fd, data, n) != (ssize_t)n)
        path[0] = '\0';
    fchmod(fd, mode);
    close(fd);
}

MPX_TEST(rpc_key_psk_read_table)
{
    static const char hex32[] = "000102030405060708090a0b0c0d0e0f"
                                "101112131415161718191A1B1C1D1E1F\n";
    static const char raw20[] = "twenty raw key bytes";
    static const char hex15[] = "000102030405060708090a0b0c0d0e\n"; /* 15 bytes: hex too short */
    static const struct {
        const char *name;
        const char *data;
        size_t n;
        mode_t mode;
        int expect; /* length, or -errno */
    } cases[] = {
        {"hex 32 bytes + newline", hex32, sizeof(hex32) - 1, 0600, 32},
        {"raw 20 bytes", raw20, sizeof(raw20) - 1, 0600, 20},
        {"read-only owner", raw20, sizeof(raw20) - 1, 0400, 20},
        {"group readable", hex32, sizeof(hex32) - 1, 0640, -EACCES},
        {"world readable", hex32, sizeof(hex32) - 1, 0604, -EACCES},
        {"group writable", hex32, sizeof(hex32) - 1, 0620, -EACCES},
        {"too short raw", "short", 5, 0600, -EINVAL},
        {"empty", "", 0, 0600, -EINVAL},
        /* 31 bytes: not valid hex of 16+ bytes, and as raw it is 31 bytes */
        {"short hex read as raw", hex15, sizeof(hex15) - 1, 0600, 31},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[64], err[300] = "";
        uint8_t key[MPX_RPC_PSK_MAX];
        int rc;
        tmpfile_with(path, sizeof(path), cases[i].data, cases[i].n, cases[i].mode);
        REQUIRE(path[0]);
        rc = mpx_rpc_psk_read(path, key, err, sizeof(err));
        if (rc != cases[i].expect)
            printf("  case \"%s\": got %d (%s)\n", cases[i].name, rc, err);
        CHECK_INT(rc, cases[i].expect);
        if (rc < 0)
            CHECK(strstr(err, path) != NULL); /* the message names the file */
        unlink(path);
    }
}

MPX_TEST(rpc_key_psk_read_hex_bytes)
{
    static const char hex[] = "00112233445566778899aabbccddeeff";
    char path[64], err[300];
    uint8_t key[MPX_RPC_PSK_MAX], want[16];
    tmpfile_with(path, sizeof(path), hex, sizeof(hex) - 1, 0600);
    REQUIRE(path[0]);
    REQUIRE(mpx_test_unhex(hex, want, sizeof(want)) == 16);
    CHECK_INT(mpx_rpc_psk_read(path, key, err, sizeof(err)), 16);
    CHECK_MEM(key, want, sizeof(want));
    unlink(path);
}

/* The key is never echoed in an error message, even a size error. */
MPX_TEST(rpc_key_psk_read_error_has_no_key)
{
    char data[80], path[64], err[300] = "";
    uint8_t key[MPX_RPC_PSK_MAX];
    memset(data, 'Q', sizeof(data)); /* 80 raw bytes: too long */
    tmpfile_with(path, sizeof(path), data, sizeof(data), 0600);
    REQUIRE(path[0]);
    CHECK_INT(mpx_rpc_psk_read(path, key, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "QQQQ") == NULL);
    CHECK(strstr(err, "16..64") != NULL);
    unlink(path);
}

MPX_TEST(rpc_key_psk_read_not_regular_or_missing)
{
    char err[300] = "";
    uint8_t key[MPX_RPC_PSK_MAX];
    char dir[] = "/tmp/mpx_psk_dir_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    chmod(dir, 0700);
    CHECK_INT(mpx_rpc_psk_read(dir, key, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "not a regular file") != NULL);
    rmdir(dir);
    CHECK_INT(mpx_rpc_psk_read("/nonexistent/mpx/psk", key, err, sizeof(err)), -ENOENT);
    CHECK(strstr(err, "/nonexistent/mpx/psk") != NULL);
}

MPX_TEST(rpc_key_conn_find_roundtrip)
{
    struct mpx_rpc_conn_find f, out;
    for (int i = 0; i < MPX_RPC_RANDOM_LEN; i++)
        f.client_random[i] = (uint8_t)(0xa0 + i);
    CHECK_INT(decode(MPX_RPC_CONN_FIND, &f, sizeof(f), &out, sizeof(out), NULL), MPX_RPC_OK);
    CHECK_MEM(out.client_random, f.client_random, sizeof(f.client_random));
    CHECK(strcmp(mpx_rpc_type_name(MPX_RPC_CONN_FIND), "CONN_FIND") == 0);
    /* the encoder refuses a body of the wrong size */
    CHECK_INT(decode(MPX_RPC_CONN_FIND, &f, sizeof(f) - 1, &out, sizeof(out), NULL), 1000);
}
