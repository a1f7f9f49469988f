/*
 * wire_mptcp_test.c - the MPTCP option codec (userstack/core/wire_mptcp.c).
 *
 * The vector table holds one row per option form: the bytes (packed from
 * the RFC 8684 / draft figures by a generator independent of the C
 * encoder), the TCP flags of the carrying segment, the struct the bytes
 * must decode to, and the bytes re-encoding must give (NULL: the same
 * bytes; different when the row sets reserved bits that are ignored).
 * Every row is run both ways, every prefix of it must be rejected, and
 * every too-small output buffer must be refused without a write.
 */
#include <stdlib.h>

#include "err.h"
#include "mpx_test.h"
#include "wire_ip.h"
#include "wire_mptcp.h"
#include "wire_tcp.h"

#define F_SYN    MPX_TH_SYN
#define F_SYNACK (MPX_TH_SYN | MPX_TH_ACK)
#define F_ACK    MPX_TH_ACK
#define F_RST    (MPX_TH_RST | MPX_TH_ACK)

#define BUF_MAX           64
#define ADD_ADDR_ECHO_BIT 0x01

struct vec {
    const char *name;
    uint8_t tcp_flags;
    const char *hex;
    const char *reenc; /* NULL: same as hex */
    struct mpx_mptcp_opt exp;
};

/* clang-format off */
static const struct vec vecs[] = {
    {"mpc_syn", F_SYN, "1e 04 01 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYN, .version = 1, .flags = 0x01}}},
    {"mpc_syn_csum_deny", F_SYN, "1e 04 01 a1",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYN, .version = 1, .flags = 0xa1}}},
    {"mpc_syn_v0", F_SYN, "1e 04 00 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYN, .version = 0, .flags = 0x01}}},
    {"mpc_syn_v2", F_SYN, "1e 04 02 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYN, .version = 2, .flags = 0x01}}},
    {"mpc_syn_b_flag", F_SYN, "1e 04 01 41",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYN, .version = 1, .flags = 0x41}}},
    {"mpc_syn_all_flags", F_SYN, "1e 04 0f ff",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYN, .version = 15, .flags = 0xff}}},
    {"mpc_synack", F_SYNACK, "1e 0c 01 01 11 12 13 14 15 16 17 18",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYNACK, .version = 1, .flags = 0x01, .snd_key = 0x1112131415161718ULL}}},
    {"mpc_synack_a", F_SYNACK, "1e 0c 01 81 ff ff ff ff ff ff ff ff",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYNACK, .version = 1, .flags = 0x81, .snd_key = 0xffffffffffffffffULL}}},
    {"mpc_ack", F_ACK, "1e 14 01 01 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_ACK, .version = 1, .flags = 0x01, .snd_key = 0x0102030405060708ULL, .rcv_key = 0x1112131415161718ULL}}},
    {"mpc_ack_on_rst", MPX_TH_RST, "1e 14 01 01 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_ACK, .version = 1, .flags = 0x01, .snd_key = 0x0102030405060708ULL, .rcv_key = 0x1112131415161718ULL}}},
    {"mpc_ack_data", F_ACK, "1e 16 01 01 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 05 a0",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_ACK, .version = 1, .flags = 0x01, .snd_key = 0x0102030405060708ULL, .rcv_key = 0x1112131415161718ULL, .has_dll = true, .dll = 0x05a0}}},
    {"mpc_ack_data_csum", F_ACK, "1e 18 01 81 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 05 a0 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_ACK, .version = 1, .flags = 0x81, .snd_key = 0x0102030405060708ULL, .rcv_key = 0x1112131415161718ULL, .has_dll = true, .dll = 0x05a0, .has_csum = true, .csum = 0xbeef}}},
    {"mpc_e_syn", F_SYN, "1e 04 01 09",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYN, .version = 1, .flags = 0x09}}},
    {"mpc_e_synack", F_SYNACK, "1e 08 01 09 05 06 07 08",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYNACK, .version = 1, .flags = 0x09, .snd_token = 0x05060708}}},
    {"mpc_e_ack", F_ACK, "1e 0c 01 09 01 02 03 04 05 06 07 08",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_ACK, .version = 1, .flags = 0x09, .snd_token = 0x01020304, .rcv_token = 0x05060708}}},
    {"mpc_e_ack_data", F_ACK, "1e 0e 01 09 01 02 03 04 05 06 07 08 00 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_ACK, .version = 1, .flags = 0x09, .snd_token = 0x01020304, .rcv_token = 0x05060708, .has_dll = true, .dll = 0x0001}}},
    {"mpc_e_ack_data_csum", F_ACK, "1e 10 01 89 01 02 03 04 05 06 07 08 ff ff 12 34",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_ACK, .version = 1, .flags = 0x89, .snd_token = 0x01020304, .rcv_token = 0x05060708, .has_dll = true, .dll = 0xffff, .has_csum = true, .csum = 0x1234}}},
    {"mpc_e_only_synack", F_SYNACK, "1e 08 01 08 ff ff ff fe",
     NULL,
     {.subtype = MPX_MPTCP_SUB_CAPABLE, .u.mpc = {.form = MPX_FORM_SYNACK, .version = 1, .flags = 0x08, .snd_token = 0xfffffffe}}},
    {"mpj_syn", F_SYN, "1e 0c 10 00 66 84 0d da 01 02 03 04",
     NULL,
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_SYN, .key_id = false, .backup = false, .addr_id = 0, .token = 0x66840dda, .nonce = 0x01020304}}},
    {"mpj_syn_backup", F_SYN, "1e 0c 11 07 66 84 0d da 01 02 03 04",
     NULL,
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_SYN, .key_id = false, .backup = true, .addr_id = 7, .token = 0x66840dda, .nonce = 0x01020304}}},
    {"mpj_syn_k", F_SYN, "1e 0c 12 02 de ad be ef ff ff ff ff",
     NULL,
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_SYN, .key_id = true, .backup = false, .addr_id = 2, .token = 0xdeadbeef, .nonce = 0xffffffff}}},
    {"mpj_syn_backup_k", F_SYN, "1e 0c 13 ff 00 00 00 01 00 00 00 02",
     NULL,
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_SYN, .key_id = true, .backup = true, .addr_id = 255, .token = 0x00000001, .nonce = 0x00000002}}},
    {"mpj_syn_reserved", F_SYN, "1e 0c 1c 03 00 00 00 05 00 00 00 06",
     "1e 0c 10 03 00 00 00 05 00 00 00 06",
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_SYN, .key_id = false, .backup = false, .addr_id = 3, .token = 0x00000005, .nonce = 0x00000006}}},
    {"mpj_synack", F_SYNACK, "1e 10 10 01 65 ee 09 68 33 f6 61 d9 05 06 07 08",
     NULL,
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_SYNACK, .key_id = false, .backup = false, .addr_id = 1, .thmac = 0x65ee096833f661d9ULL, .nonce = 0x05060708}}},
    {"mpj_synack_backup_k", F_SYNACK, "1e 10 13 09 46 05 d8 73 a8 ea 8f 53 05 06 07 08",
     NULL,
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_SYNACK, .key_id = true, .backup = true, .addr_id = 9, .thmac = 0x4605d873a8ea8f53ULL, .nonce = 0x05060708}}},
    {"mpj_synack_reserved", F_SYNACK, "1e 10 1e 09 00 00 00 00 00 00 00 01 00 00 00 02",
     "1e 10 12 09 00 00 00 00 00 00 00 01 00 00 00 02",
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_SYNACK, .key_id = true, .backup = false, .addr_id = 9, .thmac = 0x0000000000000001ULL, .nonce = 0x00000002}}},
    {"mpj_ack", F_ACK, "1e 18 10 00 24 bd de 08 df c5 5c 9b 41 85 e1 b5 6b 2f 89 db 24 1a c0 f2",
     NULL,
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_ACK, .key_id = false, .hmac = {0x24, 0xbd, 0xde, 0x08, 0xdf, 0xc5, 0x5c, 0x9b, 0x41, 0x85, 0xe1, 0xb5, 0x6b, 0x2f, 0x89, 0xdb, 0x24, 0x1a, 0xc0, 0xf2}}}},
    {"mpj_ack_k", F_ACK, "1e 18 12 00 5e a9 63 3f b4 bd 17 88 19 75 20 63 8a f1 f7 a6 f3 1e be 0a",
     NULL,
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_ACK, .key_id = true, .hmac = {0x5e, 0xa9, 0x63, 0x3f, 0xb4, 0xbd, 0x17, 0x88, 0x19, 0x75, 0x20, 0x63, 0x8a, 0xf1, 0xf7, 0xa6, 0xf3, 0x1e, 0xbe, 0x0a}}}},
    {"mpj_ack_reserved", F_ACK, "1e 18 1d ff 24 bd de 08 df c5 5c 9b 41 85 e1 b5 6b 2f 89 db 24 1a c0 f2",
     "1e 18 10 00 24 bd de 08 df c5 5c 9b 41 85 e1 b5 6b 2f 89 db 24 1a c0 f2",
     {.subtype = MPX_MPTCP_SUB_JOIN, .u.join = {.form = MPX_FORM_ACK, .key_id = false, .hmac = {0x24, 0xbd, 0xde, 0x08, 0xdf, 0xc5, 0x5c, 0x9b, 0x41, 0x85, 0xe1, 0xb5, 0x6b, 0x2f, 0x89, 0xdb, 0x24, 0x1a, 0xc0, 0xf2}}}},
    {"dss_none", F_ACK, "1e 04 20 00",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {}}},
    {"dss_none_csum", F_ACK, "1e 06 20 00 be ef",
     "1e 04 20 00",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {}}},
    {"dss_A", F_ACK, "1e 08 20 01 0a 0b 0c 0d",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 0x0a0b0c0dULL}}},
    {"dss_A_csum", F_ACK, "1e 0a 20 01 0a 0b 0c 0d be ef",
     "1e 08 20 01 0a 0b 0c 0d",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 0x0a0b0c0dULL}}},
    {"dss_a", F_ACK, "1e 04 20 02",
     "1e 04 20 00",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {}}},
    {"dss_a_csum", F_ACK, "1e 06 20 02 be ef",
     "1e 04 20 00",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {}}},
    {"dss_aA", F_ACK, "1e 0c 20 03 01 02 03 04 05 06 07 08",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL}}},
    {"dss_aA_csum", F_ACK, "1e 0e 20 03 01 02 03 04 05 06 07 08 be ef",
     "1e 0c 20 03 01 02 03 04 05 06 07 08",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL}}},
    {"dss_M", F_ACK, "1e 0e 20 04 21 22 23 24 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_M_csum", F_ACK, "1e 10 20 04 21 22 23 24 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_MA", F_ACK, "1e 12 20 05 0a 0b 0c 0d 21 22 23 24 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 0x0a0b0c0dULL, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_MA_csum", F_ACK, "1e 14 20 05 0a 0b 0c 0d 21 22 23 24 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 0x0a0b0c0dULL, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_Ma", F_ACK, "1e 0e 20 06 21 22 23 24 31 32 33 34 05 99",
     "1e 0e 20 04 21 22 23 24 31 32 33 34 05 99",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_Ma_csum", F_ACK, "1e 10 20 06 21 22 23 24 31 32 33 34 05 99 be ef",
     "1e 10 20 04 21 22 23 24 31 32 33 34 05 99 be ef",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_MaA", F_ACK, "1e 16 20 07 01 02 03 04 05 06 07 08 21 22 23 24 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_MaA_csum", F_ACK, "1e 18 20 07 01 02 03 04 05 06 07 08 21 22 23 24 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_m", F_ACK, "1e 04 20 08",
     "1e 04 20 00",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {}}},
    {"dss_m_csum", F_ACK, "1e 06 20 08 be ef",
     "1e 04 20 00",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {}}},
    {"dss_mA", F_ACK, "1e 08 20 09 0a 0b 0c 0d",
     "1e 08 20 01 0a 0b 0c 0d",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 0x0a0b0c0dULL}}},
    {"dss_mA_csum", F_ACK, "1e 0a 20 09 0a 0b 0c 0d be ef",
     "1e 08 20 01 0a 0b 0c 0d",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 0x0a0b0c0dULL}}},
    {"dss_ma", F_ACK, "1e 04 20 0a",
     "1e 04 20 00",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {}}},
    {"dss_ma_csum", F_ACK, "1e 06 20 0a be ef",
     "1e 04 20 00",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {}}},
    {"dss_maA", F_ACK, "1e 0c 20 0b 01 02 03 04 05 06 07 08",
     "1e 0c 20 03 01 02 03 04 05 06 07 08",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL}}},
    {"dss_maA_csum", F_ACK, "1e 0e 20 0b 01 02 03 04 05 06 07 08 be ef",
     "1e 0c 20 03 01 02 03 04 05 06 07 08",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL}}},
    {"dss_mM", F_ACK, "1e 12 20 0c 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_mM_csum", F_ACK, "1e 14 20 0c 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_mMA", F_ACK, "1e 16 20 0d 0a 0b 0c 0d 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 0x0a0b0c0dULL, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_mMA_csum", F_ACK, "1e 18 20 0d 0a 0b 0c 0d 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 0x0a0b0c0dULL, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_mMa", F_ACK, "1e 12 20 0e 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     "1e 12 20 0c 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_mMa_csum", F_ACK, "1e 14 20 0e 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     "1e 14 20 0c 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_mMaA", F_ACK, "1e 1a 20 0f 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_mMaA_csum", F_ACK, "1e 1c 20 0f 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_F", F_ACK, "1e 04 20 10",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true}}},
    {"dss_F_csum", F_ACK, "1e 06 20 10 be ef",
     "1e 04 20 10",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true}}},
    {"dss_FA", F_ACK, "1e 08 20 11 0a 0b 0c 0d",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .data_ack = 0x0a0b0c0dULL}}},
    {"dss_FA_csum", F_ACK, "1e 0a 20 11 0a 0b 0c 0d be ef",
     "1e 08 20 11 0a 0b 0c 0d",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .data_ack = 0x0a0b0c0dULL}}},
    {"dss_Fa", F_ACK, "1e 04 20 12",
     "1e 04 20 10",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true}}},
    {"dss_Fa_csum", F_ACK, "1e 06 20 12 be ef",
     "1e 04 20 10",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true}}},
    {"dss_FaA", F_ACK, "1e 0c 20 13 01 02 03 04 05 06 07 08",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL}}},
    {"dss_FaA_csum", F_ACK, "1e 0e 20 13 01 02 03 04 05 06 07 08 be ef",
     "1e 0c 20 13 01 02 03 04 05 06 07 08",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL}}},
    {"dss_FM", F_ACK, "1e 0e 20 14 21 22 23 24 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_FM_csum", F_ACK, "1e 10 20 14 21 22 23 24 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_FMA", F_ACK, "1e 12 20 15 0a 0b 0c 0d 21 22 23 24 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .data_ack = 0x0a0b0c0dULL, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_FMA_csum", F_ACK, "1e 14 20 15 0a 0b 0c 0d 21 22 23 24 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .data_ack = 0x0a0b0c0dULL, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_FMa", F_ACK, "1e 0e 20 16 21 22 23 24 31 32 33 34 05 99",
     "1e 0e 20 14 21 22 23 24 31 32 33 34 05 99",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_FMa_csum", F_ACK, "1e 10 20 16 21 22 23 24 31 32 33 34 05 99 be ef",
     "1e 10 20 14 21 22 23 24 31 32 33 34 05 99 be ef",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_FMaA", F_ACK, "1e 16 20 17 01 02 03 04 05 06 07 08 21 22 23 24 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_FMaA_csum", F_ACK, "1e 18 20 17 01 02 03 04 05 06 07 08 21 22 23 24 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_Fm", F_ACK, "1e 04 20 18",
     "1e 04 20 10",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true}}},
    {"dss_Fm_csum", F_ACK, "1e 06 20 18 be ef",
     "1e 04 20 10",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true}}},
    {"dss_FmA", F_ACK, "1e 08 20 19 0a 0b 0c 0d",
     "1e 08 20 11 0a 0b 0c 0d",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .data_ack = 0x0a0b0c0dULL}}},
    {"dss_FmA_csum", F_ACK, "1e 0a 20 19 0a 0b 0c 0d be ef",
     "1e 08 20 11 0a 0b 0c 0d",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .data_ack = 0x0a0b0c0dULL}}},
    {"dss_Fma", F_ACK, "1e 04 20 1a",
     "1e 04 20 10",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true}}},
    {"dss_Fma_csum", F_ACK, "1e 06 20 1a be ef",
     "1e 04 20 10",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true}}},
    {"dss_FmaA", F_ACK, "1e 0c 20 1b 01 02 03 04 05 06 07 08",
     "1e 0c 20 13 01 02 03 04 05 06 07 08",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL}}},
    {"dss_FmaA_csum", F_ACK, "1e 0e 20 1b 01 02 03 04 05 06 07 08 be ef",
     "1e 0c 20 13 01 02 03 04 05 06 07 08",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL}}},
    {"dss_FmM", F_ACK, "1e 12 20 1c 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_FmM_csum", F_ACK, "1e 14 20 1c 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_FmMA", F_ACK, "1e 16 20 1d 0a 0b 0c 0d 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .data_ack = 0x0a0b0c0dULL, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_FmMA_csum", F_ACK, "1e 18 20 1d 0a 0b 0c 0d 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .data_ack = 0x0a0b0c0dULL, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_FmMa", F_ACK, "1e 12 20 1e 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     "1e 12 20 1c 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_FmMa_csum", F_ACK, "1e 14 20 1e 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     "1e 14 20 1c 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_FmMaA", F_ACK, "1e 1a 20 1f 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 31 32 33 34 05 99",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_FmMaA_csum", F_ACK, "1e 1c 20 1f 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 31 32 33 34 05 99 be ef",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_ack = true, .ack64 = true, .data_ack = 0x0102030405060708ULL, .has_map = true, .dsn64 = true, .dsn = 0x1112131415161718ULL, .ssn = 0x31323334, .dll = 0x0599, .has_csum = true, .csum = 0xbeef}}},
    {"dss_reserved_bits", F_ACK, "1e 12 2f e5 0a 0b 0c 0d 21 22 23 24 31 32 33 34 05 99",
     "1e 12 20 05 0a 0b 0c 0d 21 22 23 24 31 32 33 34 05 99",
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.has_ack = true, .data_ack = 0x0a0b0c0dULL, .has_map = true, .dsn = 0x21222324ULL, .ssn = 0x31323334, .dll = 0x0599}}},
    {"dss_data_fin_infinite", F_ACK, "1e 14 20 1c ff ff ff ff ff ff ff ff 00 00 00 00 00 00 00 00",
     NULL,
     {.subtype = MPX_MPTCP_SUB_DSS, .u.dss = {.data_fin = true, .has_map = true, .dsn64 = true, .dsn = 0xffffffffffffffffULL, .has_csum = true}}},
    {"add_addr_v4", F_ACK, "1e 10 30 01 0a 00 02 01 01 4b 30 07 31 0c 63 9c",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = false, .key_id = false, .addr_id = 1, .addr = {.family = MPX_AF_INET, .a = {10, 0, 2, 1}}, .has_hmac = true, .hmac = 0x014b3007310c639cULL}}},
    {"add_addr_v4_port", F_ACK, "1e 12 30 01 0a 00 02 01 1f 90 01 4b 30 07 31 0c 63 9c",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = false, .key_id = false, .addr_id = 1, .addr = {.family = MPX_AF_INET, .a = {10, 0, 2, 1}}, .has_port = true, .port = 8080, .has_hmac = true, .hmac = 0x014b3007310c639cULL}}},
    {"add_addr_v6", F_ACK, "1e 1c 30 c8 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 01 4b 30 07 31 0c 63 9c",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = false, .key_id = false, .addr_id = 200, .addr = {.family = MPX_AF_INET6, .a = {32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}, .has_hmac = true, .hmac = 0x014b3007310c639cULL}}},
    {"add_addr_v6_port", F_ACK, "1e 1e 30 01 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 01 bb 01 4b 30 07 31 0c 63 9c",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = false, .key_id = false, .addr_id = 1, .addr = {.family = MPX_AF_INET6, .a = {32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}, .has_port = true, .port = 443, .has_hmac = true, .hmac = 0x014b3007310c639cULL}}},
    {"add_addr_v4_echo", F_ACK, "1e 08 31 01 0a 00 02 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = true, .key_id = false, .addr_id = 1, .addr = {.family = MPX_AF_INET, .a = {10, 0, 2, 1}}}}},
    {"add_addr_v4_port_echo", F_ACK, "1e 0a 31 01 0a 00 02 01 1f 90",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = true, .key_id = false, .addr_id = 1, .addr = {.family = MPX_AF_INET, .a = {10, 0, 2, 1}}, .has_port = true, .port = 8080}}},
    {"add_addr_v6_echo", F_ACK, "1e 14 31 01 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = true, .key_id = false, .addr_id = 1, .addr = {.family = MPX_AF_INET6, .a = {32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}}}},
    {"add_addr_v6_port_echo", F_ACK, "1e 16 31 01 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 ff ff",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = true, .key_id = false, .addr_id = 1, .addr = {.family = MPX_AF_INET6, .a = {32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}, .has_port = true, .port = 65535}}},
    {"add_addr_v4_k", F_ACK, "1e 10 32 02 0a 00 02 01 01 4b 30 07 31 0c 63 9c",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = false, .key_id = true, .addr_id = 2, .addr = {.family = MPX_AF_INET, .a = {10, 0, 2, 1}}, .has_hmac = true, .hmac = 0x014b3007310c639cULL}}},
    {"add_addr_v6_port_echo_k", F_ACK, "1e 16 33 01 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 00 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = true, .key_id = true, .addr_id = 1, .addr = {.family = MPX_AF_INET6, .a = {32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}, .has_port = true, .port = 1}}},
    {"add_addr_v4_port0", F_ACK, "1e 12 30 00 0a 00 02 01 00 00 01 4b 30 07 31 0c 63 9c",
     NULL,
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = false, .key_id = false, .addr_id = 0, .addr = {.family = MPX_AF_INET, .a = {10, 0, 2, 1}}, .has_port = true, .port = 0, .has_hmac = true, .hmac = 0x014b3007310c639cULL}}},
    {"add_addr_reserved", F_ACK, "1e 10 3c 01 0a 00 02 01 01 4b 30 07 31 0c 63 9c",
     "1e 10 30 01 0a 00 02 01 01 4b 30 07 31 0c 63 9c",
     {.subtype = MPX_MPTCP_SUB_ADD_ADDR, .u.add_addr = {.echo = false, .key_id = false, .addr_id = 1, .addr = {.family = MPX_AF_INET, .a = {10, 0, 2, 1}}, .has_hmac = true, .hmac = 0x014b3007310c639cULL}}},
    {"rm_addr_1", F_ACK, "1e 04 40 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 1, .ids = {1}}}},
    {"rm_addr_2", F_ACK, "1e 05 40 01 26",
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 2, .ids = {1, 38}}}},
    {"rm_addr_3", F_ACK, "1e 06 40 01 26 4b",
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 3, .ids = {1, 38, 75}}}},
    {"rm_addr_4", F_ACK, "1e 07 40 01 26 4b 70",
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 4, .ids = {1, 38, 75, 112}}}},
    {"rm_addr_5", F_ACK, "1e 08 40 01 26 4b 70 95",
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 5, .ids = {1, 38, 75, 112, 149}}}},
    {"rm_addr_6", F_ACK, "1e 09 40 01 26 4b 70 95 ba",
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 6, .ids = {1, 38, 75, 112, 149, 186}}}},
    {"rm_addr_7", F_ACK, "1e 0a 40 01 26 4b 70 95 ba df",
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 7, .ids = {1, 38, 75, 112, 149, 186, 223}}}},
    {"rm_addr_8", F_ACK, "1e 0b 40 01 26 4b 70 95 ba df 04",
     NULL,
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 8, .ids = {1, 38, 75, 112, 149, 186, 223, 4}}}},
    {"rm_addr_reserved", F_ACK, "1e 04 4f 00",
     "1e 04 40 00",
     {.subtype = MPX_MPTCP_SUB_RM_ADDR, .u.rm_addr = {.n_ids = 1}}},
    {"prio", F_ACK, "1e 03 50",
     NULL,
     {.subtype = MPX_MPTCP_SUB_PRIO, .u.prio = {.backup = false}}},
    {"prio_backup", F_ACK, "1e 03 51",
     NULL,
     {.subtype = MPX_MPTCP_SUB_PRIO, .u.prio = {.backup = true}}},
    {"prio_reserved", F_ACK, "1e 03 5f",
     "1e 03 51",
     {.subtype = MPX_MPTCP_SUB_PRIO, .u.prio = {.backup = true}}},
    {"fail", F_ACK, "1e 0c 60 00 11 12 13 14 15 16 17 18",
     NULL,
     {.subtype = MPX_MPTCP_SUB_FAIL, .u.fail = {.dsn = 0x1112131415161718ULL}}},
    {"fail_on_rst", F_RST, "1e 0c 60 00 00 00 00 00 00 00 00 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_FAIL, .u.fail = {.dsn = 1}}},
    {"fail_reserved", F_ACK, "1e 0c 6f ff 00 00 00 00 00 00 00 02",
     "1e 0c 60 00 00 00 00 00 00 00 00 02",
     {.subtype = MPX_MPTCP_SUB_FAIL, .u.fail = {.dsn = 2}}},
    {"fastclose", F_ACK, "1e 0c 70 00 11 12 13 14 15 16 17 18",
     NULL,
     {.subtype = MPX_MPTCP_SUB_FASTCLOSE, .u.fastclose = {.key = 0x1112131415161718ULL}}},
    {"fastclose_k_on_rst", F_RST, "1e 0c 71 00 0b f1 51 f1 41 78 2a 4b",
     NULL,
     {.subtype = MPX_MPTCP_SUB_FASTCLOSE, .u.fastclose = {.key_id = true, .key = 0x0bf151f141782a4bULL}}},
    {"fastclose_reserved", F_ACK, "1e 0c 7e ff 00 00 00 00 00 00 00 03",
     "1e 0c 70 00 00 00 00 00 00 00 00 03",
     {.subtype = MPX_MPTCP_SUB_FASTCLOSE, .u.fastclose = {.key = 3}}},
    {"tcprst_reason_0", F_RST, "1e 04 80 00",
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.reason = 0}}},
    {"tcprst_reason_1", F_RST, "1e 04 80 01",
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.reason = 1}}},
    {"tcprst_reason_2", F_RST, "1e 04 80 02",
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.reason = 2}}},
    {"tcprst_reason_3", F_RST, "1e 04 80 03",
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.reason = 3}}},
    {"tcprst_reason_4", F_RST, "1e 04 80 04",
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.reason = 4}}},
    {"tcprst_reason_5", F_RST, "1e 04 80 05",
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.reason = 5}}},
    {"tcprst_reason_6", F_RST, "1e 04 80 06",
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.reason = 6}}},
    {"tcprst_transient", MPX_TH_RST, "1e 04 81 03",
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.flags = MPX_TCPRST_F_T, .reason = 3}}},
    {"tcprst_all_flags", F_RST, "1e 04 8f 42",
     NULL,
     {.subtype = MPX_MPTCP_SUB_TCPRST, .u.tcprst = {.flags = 0x0f, .reason = 0x42}}},
    {"new_key", F_ACK, "1e 0c 90 00 6b 98 90 5e 16 80 d5 d5",
     NULL,
     {.subtype = MPX_MPTCP_SUB_NEW_KEY, .u.new_key = {.hmac = 0x6b98905e1680d5d5ULL}}},
    {"new_key_k", F_ACK, "1e 0c 91 00 a7 82 4b 89 de d8 f8 0d",
     NULL,
     {.subtype = MPX_MPTCP_SUB_NEW_KEY, .u.new_key = {.key_id = true, .hmac = 0xa7824b89ded8f80dULL}}},
    {"new_key_byte3_ignored", F_ACK, "1e 0c 91 a5 00 00 00 00 00 00 00 07",
     "1e 0c 91 00 00 00 00 00 00 00 00 07",
     {.subtype = MPX_MPTCP_SUB_NEW_KEY, .u.new_key = {.key_id = true, .hmac = 7}}},
    {"new_key_reserved", F_SYNACK, "1e 0c 9e 00 00 00 00 00 00 00 00 08",
     "1e 0c 90 00 00 00 00 00 00 00 00 08",
     {.subtype = MPX_MPTCP_SUB_NEW_KEY, .u.new_key = {.hmac = 8}}},
};
/* clang-format on */

#define N_VECS (sizeof(vecs) / sizeof(vecs[0]))

static int unhex(const char *hex, uint8_t *out)
{
    int n = mpx_test_unhex(hex, out, BUF_MAX);
    if (n < 0)
        mpx_test_fail(__FILE__, __LINE__, "bad hex in table: %s", hex);
    return n;
}

#define FEQ(f)                                                                                     \
    do {                                                                                           \
        if ((uint64_t)(g->f) != (uint64_t)(e->f)) {                                                \
            mpx_test_fail(__FILE__, __LINE__, "%s: " #f " = 0x%" PRIx64 ", want 0x%" PRIx64, name, \
                          (uint64_t)(g->f), (uint64_t)(e->f));                                     \
            ok = false;                                                                            \
        }                                                                                          \
    } while (0)

#define MEQ(f)                                                                                     \
    do {                                                                                           \
        if (memcmp(g->f, e->f, sizeof(e->f)) != 0) {                                               \
            mpx_test_fail(__FILE__, __LINE__, "%s: " #f " = %s", name,                             \
                          mpx_test_hex(g->f, sizeof(g->f)));                                       \
            ok = false;                                                                            \
        }                                                                                          \
    } while (0)

/* Field-by-field comparison of every field of the subtype's struct, so a
 * failure names the field. */
static bool opt_eq(const char *name, const struct mpx_mptcp_opt *g, const struct mpx_mptcp_opt *e)
{
    bool ok = true;

    FEQ(subtype);
    if (!ok)
        return false;
    switch (e->subtype) {
    case MPX_MPTCP_SUB_CAPABLE:
        FEQ(u.mpc.form);
        FEQ(u.mpc.version);
        FEQ(u.mpc.flags);
        FEQ(u.mpc.snd_key);
        FEQ(u.mpc.rcv_key);
        FEQ(u.mpc.snd_token);
        FEQ(u.mpc.rcv_token);
        FEQ(u.mpc.has_dll);
        FEQ(u.mpc.dll);
        FEQ(u.mpc.has_csum);
        FEQ(u.mpc.csum);
        break;
    case MPX_MPTCP_SUB_JOIN:
        FEQ(u.join.form);
        FEQ(u.join.backup);
        FEQ(u.join.key_id);
        FEQ(u.join.addr_id);
        FEQ(u.join.token);
        FEQ(u.join.nonce);
        FEQ(u.join.thmac);
        MEQ(u.join.hmac);
        break;
    case MPX_MPTCP_SUB_DSS:
        FEQ(u.dss.data_fin);
        FEQ(u.dss.has_ack);
        FEQ(u.dss.ack64);
        FEQ(u.dss.data_ack);
        FEQ(u.dss.has_map);
        FEQ(u.dss.dsn64);
        FEQ(u.dss.dsn);
        FEQ(u.dss.ssn);
        FEQ(u.dss.dll);
        FEQ(u.dss.has_csum);
        FEQ(u.dss.csum);
        break;
    case MPX_MPTCP_SUB_ADD_ADDR:
        FEQ(u.add_addr.echo);
        FEQ(u.add_addr.key_id);
        FEQ(u.add_addr.addr_id);
        FEQ(u.add_addr.addr.family);
        MEQ(u.add_addr.addr.a);
        FEQ(u.add_addr.has_port);
        FEQ(u.add_addr.port);
        FEQ(u.add_addr.has_hmac);
        FEQ(u.add_addr.hmac);
        break;
    case MPX_MPTCP_SUB_RM_ADDR:
        FEQ(u.rm_addr.n_ids);
        MEQ(u.rm_addr.ids);
        break;
    case MPX_MPTCP_SUB_PRIO:
        FEQ(u.prio.backup);
        break;
    case MPX_MPTCP_SUB_FAIL:
        FEQ(u.fail.dsn);
        break;
    case MPX_MPTCP_SUB_FASTCLOSE:
        FEQ(u.fastclose.key_id);
        FEQ(u.fastclose.key);
        break;
    case MPX_MPTCP_SUB_TCPRST:
        FEQ(u.tcprst.flags);
        FEQ(u.tcprst.reason);
        break;
    case MPX_MPTCP_SUB_NEW_KEY:
        FEQ(u.new_key.key_id);
        FEQ(u.new_key.hmac);
        break;
    default:
        mpx_test_fail(__FILE__, __LINE__, "%s: no comparison for subtype %d", name, e->subtype);
        ok = false;
    }
    return ok;
}

/* Decode |v| (exact length, then with trailing bytes that must not be
 * read into the option), compare, re-encode the expected struct and the
 * decoded one, compare bytes. */
static void run_vec(const struct vec *v)
{
    uint8_t in[BUF_MAX], want[BUF_MAX], out[BUF_MAX];
    struct mpx_mptcp_opt got;
    int n = unhex(v->hex, in);
    int wn = unhex(v->reenc ? v->reenc : v->hex, want);
    int rv;

    if (n < 0 || wn < 0)
        return;
    rv = mpx_mptcp_decode(in, (size_t)n, v->tcp_flags, &got);
    if (rv != n) {
        mpx_test_fail(__FILE__, __LINE__, "%s: decode returned %d, want %d", v->name, rv, n);
        return;
    }
    opt_eq(v->name, &got, &v->exp);

    /* Trailing bytes (another option, NOPs) change nothing. */
    memset(in + n, 0x01, sizeof(in) - (size_t)n);
    rv = mpx_mptcp_decode(in, sizeof(in), v->tcp_flags, &got);
    if (rv != n)
        mpx_test_fail(__FILE__, __LINE__, "%s: decode with tail returned %d", v->name, rv);
    opt_eq(v->name, &got, &v->exp);

    if (mpx_mptcp_len(&v->exp) != wn)
        mpx_test_fail(__FILE__, __LINE__, "%s: mpx_mptcp_len = %d, want %d", v->name,
                      mpx_mptcp_len(&v->exp), wn);
    memset(out, 0xcc, sizeof(out));
    rv = mpx_mptcp_encode(out, sizeof(out), &v->exp);
    if (rv != wn || memcmp(out, want, (size_t)wn) != 0 || out[wn] != 0xcc)
        mpx_test_fail(__FILE__, __LINE__, "%s: encode gave %d bytes %s", v->name, rv,
                      mpx_test_hex(out, rv > 0 ? (size_t)rv : 0));
    memset(out, 0xcc, sizeof(out));
    rv = mpx_mptcp_encode(out, sizeof(out), &got);
    if (rv != wn || memcmp(out, want, (size_t)wn) != 0)
        mpx_test_fail(__FILE__, __LINE__, "%s: encode(decoded) gave %d bytes", v->name, rv);
}

/* Run every row of one subtype; |want_rows| pins the table's coverage. */
static void run_subtype(enum mpx_mptcp_subtype st, size_t want_rows)
{
    size_t rows = 0;
    for (size_t i = 0; i < N_VECS; i++) {
        if (vecs[i].exp.subtype != st)
            continue;
        run_vec(&vecs[i]);
        rows++;
    }
    CHECK_EQ(rows, want_rows);
}

/* ---- both directions, per option ---------------------------------------- */

MPX_TEST(wire_mptcp_roundtrip_mp_capable)
{
    run_subtype(MPX_MPTCP_SUB_CAPABLE, 18);
}

MPX_TEST(wire_mptcp_roundtrip_mp_join)
{
    run_subtype(MPX_MPTCP_SUB_JOIN, 11);
}

/* 32 flag combinations (F m M a A) x with/without checksum, plus reserved
 * bits and the DATA_FIN infinite-mapping shape. */
MPX_TEST(wire_mptcp_roundtrip_dss)
{
    run_subtype(MPX_MPTCP_SUB_DSS, 66);
}

MPX_TEST(wire_mptcp_roundtrip_add_addr)
{
    run_subtype(MPX_MPTCP_SUB_ADD_ADDR, 12);
}

MPX_TEST(wire_mptcp_roundtrip_rm_addr)
{
    run_subtype(MPX_MPTCP_SUB_RM_ADDR, 9);
}

MPX_TEST(wire_mptcp_roundtrip_mp_prio)
{
    run_subtype(MPX_MPTCP_SUB_PRIO, 3);
}

MPX_TEST(wire_mptcp_roundtrip_mp_fail)
{
    run_subtype(MPX_MPTCP_SUB_FAIL, 3);
}

MPX_TEST(wire_mptcp_roundtrip_mp_fastclose)
{
    run_subtype(MPX_MPTCP_SUB_FASTCLOSE, 3);
}

MPX_TEST(wire_mptcp_roundtrip_mp_tcprst)
{
    run_subtype(MPX_MPTCP_SUB_TCPRST, 9);
}

MPX_TEST(wire_mptcp_roundtrip_new_key)
{
    run_subtype(MPX_MPTCP_SUB_NEW_KEY, 4);
}

MPX_TEST(wire_mptcp_table_names_unique)
{
    for (size_t i = 0; i < N_VECS; i++)
        for (size_t j = i + 1; j < N_VECS; j++)
            if (strcmp(vecs[i].name, vecs[j].name) == 0)
                mpx_test_fail(__FILE__, __LINE__, "duplicate row %s", vecs[i].name);
    CHECK(N_VECS == 138);
}

/* ---- truncation ----------------------------------------------------------- */

/* Every prefix 0..len-1 of every row is MPX_ERR_TRUNC. Each prefix is
 * copied into a heap block of exactly that size, so ASan catches any read
 * past |len|. */
MPX_TEST(wire_mptcp_truncation_every_prefix)
{
    uint8_t in[BUF_MAX];
    struct mpx_mptcp_opt got;
    size_t checked = 0;

    for (size_t i = 0; i < N_VECS; i++) {
        int n = unhex(vecs[i].hex, in);
        for (int k = 0; k < n; k++) {
            uint8_t *p = malloc(k ? (size_t)k : 1);
            REQUIRE(p != NULL);
            memcpy(p, in, (size_t)k);
            int rv = mpx_mptcp_decode(p, (size_t)k, vecs[i].tcp_flags, &got);
            if (rv != MPX_ERR_TRUNC)
                mpx_test_fail(__FILE__, __LINE__, "%s: prefix %d: %d", vecs[i].name, k, rv);
            free(p);
            checked++;
        }
    }
    CHECK(checked > 1000);
}

/* The length byte claims more than the buffer holds: MPX_ERR_TRUNC (the
 * decoder cannot tell a short buffer from a lying length). */
MPX_TEST(wire_mptcp_truncation_length_byte_too_large)
{
    uint8_t in[BUF_MAX];
    struct mpx_mptcp_opt got;

    for (size_t i = 0; i < N_VECS; i++) {
        int n = unhex(vecs[i].hex, in);
        const uint8_t lies[] = {(uint8_t)(n + 1), (uint8_t)(n + 2), 40, 255};
        for (size_t l = 0; l < sizeof(lies); l++) {
            if (lies[l] <= n)
                continue;
            uint8_t *p = malloc((size_t)n);
            REQUIRE(p != NULL);
            memcpy(p, in, (size_t)n);
            p[1] = lies[l];
            int rv = mpx_mptcp_decode(p, (size_t)n, vecs[i].tcp_flags, &got);
            if (rv != MPX_ERR_TRUNC)
                mpx_test_fail(__FILE__, __LINE__, "%s: p[1]=%u: %d", vecs[i].name, lies[l], rv);
            free(p);
        }
    }
}

/* ---- malformed input ------------------------------------------------------ */

struct bad {
    const char *name;
    uint8_t tcp_flags;
    const char *hex;
    int rv;
    int subtype; /* out->subtype after the call */
};

/* clang-format off */
static const struct bad bads[] = {
    /* framing */
    {"silly_len0", F_ACK, "1e 00 20 00", MPX_ERR_PROTO, 0},
    {"silly_len1", F_ACK, "1e 01 20 00", MPX_ERR_PROTO, 0},
    {"len2_no_subtype", F_ACK, "1e 02", MPX_ERR_PROTO, 0},
    {"len2_in_longer_buf", F_ACK, "1e 02 20 01", MPX_ERR_PROTO, 0},
    /* MP_CAPABLE: length must fit (SYN/ACK flags, E flag) */
    {"mpc_len3", F_SYN, "1e 03 01", MPX_ERR_PROTO, 0},
    {"mpc_syn_len12", F_SYN, "1e 0c 01 01 11 12 13 14 15 16 17 18", MPX_ERR_PROTO, 0},
    {"mpc_syn_len8_e", F_SYN, "1e 08 01 09 05 06 07 08", MPX_ERR_PROTO, 0},
    {"mpc_synack_len4", F_SYNACK, "1e 04 01 01", MPX_ERR_PROTO, 0},
    {"mpc_synack_len20", F_SYNACK, "1e 14 01 01 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18",
     MPX_ERR_PROTO, 0},
    {"mpc_ack_len12_no_e", F_ACK, "1e 0c 01 01 11 12 13 14 15 16 17 18", MPX_ERR_PROTO, 0},
    {"mpc_ack_len4", F_ACK, "1e 04 01 01", MPX_ERR_PROTO, 0},
    {"mpc_ack_len21", F_ACK,
     "1e 15 01 01 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 05", MPX_ERR_PROTO, 0},
    {"mpc_ack_len26", F_ACK,
     "1e 1a 01 01 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 05 a0 be ef 00 00",
     MPX_ERR_PROTO, 0},
    /* D5: E flag and length disagree */
    {"mpc_e_synack_len12", F_SYNACK, "1e 0c 01 09 11 12 13 14 15 16 17 18", MPX_ERR_PROTO, 0},
    {"mpc_synack_len8_no_e", F_SYNACK, "1e 08 01 01 05 06 07 08", MPX_ERR_PROTO, 0},
    {"mpc_e_ack_len20", F_ACK, "1e 14 01 09 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18",
     MPX_ERR_PROTO, 0},
    {"mpc_e_ack_len22", F_ACK,
     "1e 16 01 09 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 00 10", MPX_ERR_PROTO, 0},
    {"mpc_e_ack_len24", F_ACK,
     "1e 18 01 09 01 02 03 04 05 06 07 08 11 12 13 14 15 16 17 18 00 10 00 00",
     MPX_ERR_PROTO, 0},
    {"mpc_e_ack_len13", F_ACK, "1e 0d 01 09 01 02 03 04 05 06 07 08 00", MPX_ERR_PROTO, 0},
    {"mpc_e_ack_len18", F_ACK, "1e 12 01 09 01 02 03 04 05 06 07 08 00 10 00 00 00 00",
     MPX_ERR_PROTO, 0},
    {"mpc_ack_len14_no_e", F_ACK, "1e 0e 01 01 01 02 03 04 05 06 07 08 00 10", MPX_ERR_PROTO, 0},
    {"mpc_ack_len16_no_e", F_ACK, "1e 10 01 01 01 02 03 04 05 06 07 08 00 10 00 00",
     MPX_ERR_PROTO, 0},
    /* B set and a length we cannot frame: an unknown extended format */
    {"mpc_b_synack_len6", F_SYNACK, "1e 06 01 41 00 00", MPX_ERR_IGNORED, 0},
    {"mpc_b_syn_len8", F_SYN, "1e 08 01 c1 00 00 00 00", MPX_ERR_IGNORED, 0},
    /* MP_JOIN: length must be the form of the segment */
    {"mpj_len3", F_SYN, "1e 03 10", MPX_ERR_PROTO, 1},
    {"mpj_syn_len16", F_SYN, "1e 10 10 01 00 00 00 00 00 00 00 01 00 00 00 02", MPX_ERR_PROTO, 1},
    {"mpj_syn_len11", F_SYN, "1e 0b 10 01 00 00 00 01 00 00 00", MPX_ERR_PROTO, 1},
    {"mpj_synack_len12", F_SYNACK, "1e 0c 10 01 00 00 00 01 00 00 00 02", MPX_ERR_PROTO, 1},
    {"mpj_ack_len12", F_ACK, "1e 0c 10 01 00 00 00 01 00 00 00 02", MPX_ERR_PROTO, 1},
    {"mpj_ack_len16", F_ACK, "1e 10 10 01 00 00 00 00 00 00 00 01 00 00 00 02", MPX_ERR_PROTO, 1},
    {"mpj_syn_len24", F_SYN,
     "1e 18 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", MPX_ERR_PROTO,
     1},
    /* DSS: length must match the flags (+2 for a checksum) */
    {"dss_len3", F_ACK, "1e 03 20", MPX_ERR_PROTO, 2},
    {"dss_none_len5", F_ACK, "1e 05 20 00 00", MPX_ERR_PROTO, 2},
    {"dss_A_len6", F_ACK, "1e 06 20 01 00 00", MPX_ERR_PROTO, 2},
    {"dss_A_len12", F_ACK, "1e 0c 20 01 00 00 00 01 00 00 00 00", MPX_ERR_PROTO, 2},
    {"dss_aA_len8", F_ACK, "1e 08 20 03 00 00 00 01", MPX_ERR_PROTO, 2},
    {"dss_M_len18", F_ACK, "1e 12 20 04 00 00 00 01 00 00 00 01 00 05 00 00 00 00", MPX_ERR_PROTO,
     2},
    {"dss_M_len15", F_ACK, "1e 0f 20 04 00 00 00 01 00 00 00 01 00 05 00", MPX_ERR_PROTO, 2},
    {"dss_mMaA_len30", F_ACK,
     "1e 1e 20 0f 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 01 00 05 00 00 00 00",
     MPX_ERR_PROTO, 2},
    /* ADD_ADDR: echo lengths only with E, HMAC lengths only without */
    {"add_len3", F_ACK, "1e 03 30", MPX_ERR_PROTO, 3},
    {"add_v4_len16_echo", F_ACK, "1e 10 31 01 0a 00 02 01 01 4b 30 07 31 0c 63 9c", MPX_ERR_PROTO,
     3},
    {"add_v4_len8_no_echo", F_ACK, "1e 08 30 01 0a 00 02 01", MPX_ERR_PROTO, 3},
    {"add_len12", F_ACK, "1e 0c 30 01 0a 00 02 01 00 00 00 00", MPX_ERR_PROTO, 3},
    {"add_len12_echo", F_ACK, "1e 0c 31 01 0a 00 02 01 00 00 00 00", MPX_ERR_PROTO, 3},
    {"add_len31", F_ACK,
     "1e 1f 30 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
     MPX_ERR_PROTO, 3},
    /* REMOVE_ADDR: 1..8 ids */
    {"rm_addr_0_ids", F_ACK, "1e 03 40", MPX_ERR_PROTO, 4},
    {"rm_addr_9_ids", F_ACK, "1e 0c 40 01 02 03 04 05 06 07 08 09", MPX_ERR_PROTO, 4},
    /* MP_PRIO exactly 3 (RFC 6824's address-id form is gone) */
    {"prio_len4", F_ACK, "1e 04 51 02", MPX_ERR_PROTO, 5},
    {"fail_len11", F_ACK, "1e 0b 60 00 00 00 00 00 00 00 01", MPX_ERR_PROTO, 6},
    {"fail_len13", F_ACK, "1e 0d 60 00 00 00 00 00 00 00 00 01 00", MPX_ERR_PROTO, 6},
    {"fastclose_len4", F_ACK, "1e 04 70 00", MPX_ERR_PROTO, 7},
    {"fastclose_len20", F_ACK, "1e 14 70 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00",
     MPX_ERR_PROTO, 7},
    /* MP_TCPRST: length 4, and only on RST segments */
    {"tcprst_len3", F_RST, "1e 03 81", MPX_ERR_PROTO, 8},
    {"tcprst_len5", F_RST, "1e 05 81 03 00", MPX_ERR_PROTO, 8},
    {"tcprst_not_rst", F_ACK, "1e 04 81 03", MPX_ERR_IGNORED, 8},
    {"tcprst_on_syn", F_SYN, "1e 04 80 01", MPX_ERR_IGNORED, 8},
    {"new_key_len4", F_ACK, "1e 04 91 00", MPX_ERR_PROTO, 9},
    {"new_key_len20", F_ACK, "1e 14 91 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00",
     MPX_ERR_PROTO, 9},
    /* unknown subtypes, any length */
    {"subtype_0xa", F_ACK, "1e 0c a0 00 00 00 00 00 00 00 00 01", MPX_ERR_IGNORED, 0xa},
    {"subtype_0xb", F_ACK, "1e 03 b0", MPX_ERR_IGNORED, 0xb},
    {"subtype_0xc", F_ACK, "1e 04 c0 00", MPX_ERR_IGNORED, 0xc},
    {"subtype_0xd", F_SYN, "1e 04 d0 00", MPX_ERR_IGNORED, 0xd},
    {"subtype_0xe", F_ACK, "1e 05 e0 00 00", MPX_ERR_IGNORED, 0xe},
    {"subtype_0xf_experimental", F_ACK, "1e 06 f1 02 03 04", MPX_ERR_IGNORED, 0xf},
};
/* clang-format on */

MPX_TEST(wire_mptcp_malformed_table)
{
    uint8_t in[BUF_MAX];
    struct mpx_mptcp_opt got, zero;

    memset(&zero, 0, sizeof(zero));
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        int n = unhex(bads[i].hex, in);
        uint8_t *p = malloc((size_t)n);
        REQUIRE(p != NULL);
        memcpy(p, in, (size_t)n);
        memset(&got, 0x5a, sizeof(got));
        int rv = mpx_mptcp_decode(p, (size_t)n, bads[i].tcp_flags, &got);
        if (rv != bads[i].rv)
            mpx_test_fail(__FILE__, __LINE__, "%s: rv %d (%s), want %d", bads[i].name, rv,
                          mpx_strerror(rv), bads[i].rv);
        if ((int)got.subtype != bads[i].subtype)
            mpx_test_fail(__FILE__, __LINE__, "%s: subtype %d", bads[i].name, (int)got.subtype);
        if (memcmp(&got.u, &zero.u, sizeof(got.u)) != 0)
            mpx_test_fail(__FILE__, __LINE__, "%s: union not zeroed", bads[i].name);
        free(p);
    }
    CHECK_EQ(sizeof(bads) / sizeof(bads[0]), 64);
}

/* Arguments that are the caller's bug, not the peer's. */
MPX_TEST(wire_mptcp_decode_bad_arguments)
{
    const uint8_t dss[] = {0x1e, 0x04, 0x20, 0x00};
    const uint8_t not_mptcp[] = {0x02, 0x04, 0x05, 0xb4};
    struct mpx_mptcp_opt got;

    CHECK_INT(mpx_mptcp_decode(dss, sizeof(dss), F_ACK, NULL), MPX_ERR_INVAL);
    CHECK_INT(mpx_mptcp_decode(NULL, 4, F_ACK, &got), MPX_ERR_INVAL);
    memset(&got, 0x5a, sizeof(got));
    CHECK_INT(mpx_mptcp_decode(not_mptcp, sizeof(not_mptcp), F_ACK, &got), MPX_ERR_INVAL);
    CHECK(got.subtype == 0 && got.u.fail.dsn == 0);
    CHECK_INT(mpx_mptcp_decode(NULL, 0, F_ACK, &got), MPX_ERR_TRUNC);
    CHECK_INT(mpx_mptcp_decode(dss, 1, F_ACK, &got), MPX_ERR_TRUNC);
    CHECK_INT(mpx_mptcp_decode(dss, sizeof(dss), F_ACK, &got), 4);
}

/* ---- encoder -------------------------------------------------------------- */

/* Every outlen below the option's length: MPX_ERR_NOBUF and not one byte
 * written (canary); outlen == length writes exactly length bytes. */
MPX_TEST(wire_mptcp_encode_nobuf_every_outlen)
{
    uint8_t out[BUF_MAX];

    for (size_t i = 0; i < N_VECS; i++) {
        int len = mpx_mptcp_len(&vecs[i].exp);
        REQUIRE(len > 0);
        for (int k = 0; k < len; k++) {
            memset(out, 0xcc, sizeof(out));
            int rv = mpx_mptcp_encode(out, (size_t)k, &vecs[i].exp);
            if (rv != MPX_ERR_NOBUF)
                mpx_test_fail(__FILE__, __LINE__, "%s: outlen %d: %d", vecs[i].name, k, rv);
            for (size_t b = 0; b < sizeof(out); b++)
                if (out[b] != 0xcc) {
                    mpx_test_fail(__FILE__, __LINE__, "%s: outlen %d wrote byte %zu", vecs[i].name,
                                  k, b);
                    break;
                }
        }
        memset(out, 0xcc, sizeof(out));
        CHECK_INT(mpx_mptcp_encode(out, (size_t)len, &vecs[i].exp), len);
        for (size_t b = (size_t)len; b < sizeof(out); b++)
            CHECK(out[b] == 0xcc);
    }
    CHECK_INT(mpx_mptcp_encode(NULL, 0, &vecs[0].exp), MPX_ERR_NOBUF);
}

static struct mpx_mptcp_opt mk(enum mpx_mptcp_subtype st)
{
    struct mpx_mptcp_opt o;
    memset(&o, 0, sizeof(o));
    o.subtype = st;
    return o;
}

/* Structs that describe no valid option: MPX_ERR_INVAL from both len and
 * encode (checked before the buffer size), nothing written. */
MPX_TEST(wire_mptcp_encode_invalid_structs)
{
    struct mpx_mptcp_opt o[20];
    size_t n = 0;
    uint8_t out[BUF_MAX];

    o[n] = mk(MPX_MPTCP_SUB_CAPABLE), o[n].u.mpc.form = (enum mpx_hs_form)3, n++;
    o[n] = mk(MPX_MPTCP_SUB_CAPABLE), o[n].u.mpc.version = 16, n++;
    o[n] = mk(MPX_MPTCP_SUB_CAPABLE), o[n].u.mpc.has_dll = true, n++; /* SYN */
    o[n] = mk(MPX_MPTCP_SUB_CAPABLE), o[n].u.mpc.form = MPX_FORM_SYNACK;
    o[n].u.mpc.has_dll = true, n++;
    o[n] = mk(MPX_MPTCP_SUB_CAPABLE), o[n].u.mpc.form = MPX_FORM_ACK;
    o[n].u.mpc.has_csum = true, n++; /* checksum without DLL */
    o[n] = mk(MPX_MPTCP_SUB_JOIN), o[n].u.join.form = (enum mpx_hs_form)7, n++;
    o[n] = mk(MPX_MPTCP_SUB_DSS), o[n].u.dss.ack64 = true, n++;
    o[n] = mk(MPX_MPTCP_SUB_DSS), o[n].u.dss.dsn64 = true, n++;
    o[n] = mk(MPX_MPTCP_SUB_DSS), o[n].u.dss.has_ack = true, o[n].u.dss.has_csum = true, n++;
    o[n] = mk(MPX_MPTCP_SUB_ADD_ADDR), o[n].u.add_addr.has_hmac = true, n++; /* no family */
    o[n] = mk(MPX_MPTCP_SUB_ADD_ADDR), o[n].u.add_addr.addr = mpx_addr_v4(0x0a000001);
    o[n].u.add_addr.has_hmac = false, n++; /* announcement without HMAC */
    o[n] = mk(MPX_MPTCP_SUB_ADD_ADDR), o[n].u.add_addr.addr = mpx_addr_v4(0x0a000001);
    o[n].u.add_addr.echo = true, o[n].u.add_addr.has_hmac = true, n++; /* echo with HMAC */
    o[n] = mk(MPX_MPTCP_SUB_RM_ADDR), n++;                             /* 0 ids */
    o[n] = mk(MPX_MPTCP_SUB_RM_ADDR), o[n].u.rm_addr.n_ids = 9, n++;
    o[n] = mk(MPX_MPTCP_SUB_RM_ADDR), o[n].u.rm_addr.n_ids = 255, n++;
    o[n] = mk(MPX_MPTCP_SUB_TCPRST), o[n].u.tcprst.flags = 0x10, n++;
    o[n] = mk((enum mpx_mptcp_subtype)0xa), n++;
    o[n] = mk(MPX_MPTCP_SUB_EXPERIMENTAL), n++;
    for (size_t i = 0; i < n; i++) {
        memset(out, 0xcc, sizeof(out));
        if (mpx_mptcp_len(&o[i]) != MPX_ERR_INVAL)
            mpx_test_fail(__FILE__, __LINE__, "case %zu: len %d", i, mpx_mptcp_len(&o[i]));
        if (mpx_mptcp_encode(out, sizeof(out), &o[i]) != MPX_ERR_INVAL)
            mpx_test_fail(__FILE__, __LINE__, "case %zu: encode accepted", i);
        if (mpx_mptcp_encode(out, 0, &o[i]) != MPX_ERR_INVAL)
            mpx_test_fail(__FILE__, __LINE__, "case %zu: INVAL not checked first", i);
        CHECK(out[0] == 0xcc);
    }
    CHECK_EQ(n, 18);
    CHECK_INT(mpx_mptcp_len(NULL), MPX_ERR_INVAL);
}

/* The 32-bit DATA_ACK / DSN forms carry the low 32 bits of a full value
 * (the protocol layer passes 64-bit sequence numbers). */
MPX_TEST(wire_mptcp_encode_dss_32bit_truncates)
{
    struct mpx_mptcp_opt o = mk(MPX_MPTCP_SUB_DSS);
    uint8_t out[BUF_MAX], want[BUF_MAX];
    int wn =
        mpx_test_unhex("1e 12 20 05 0d 0e 0f 10 15 16 17 18 00 00 00 01 05 a0", want, sizeof(want));

    o.u.dss.has_ack = true;
    o.u.dss.data_ack = 0x090a0b0c0d0e0f10ULL;
    o.u.dss.has_map = true;
    o.u.dss.dsn = 0x1112131415161718ULL;
    o.u.dss.ssn = 1;
    o.u.dss.dll = 1440;
    REQUIRE(mpx_mptcp_encode(out, sizeof(out), &o) == wn);
    CHECK_MEM(out, want, (size_t)wn);
}

/* ---- DSS checksum (RFC 8684 section 3.3.1) -------------------------------- */

/*
 * By hand: pseudo-header words 0102 0304 0506 0708 (DSN) 0000 0001 (SSN)
 * 0005 (DLL) 0000, payload "hello" = 6865 6c6c 6f00 (odd byte padded).
 * Sum 0102+0304+0506+0708 = 1014, +0001 = 1015, +0005 = 101a,
 * +6865 = 787f, +6c6c = e4eb, +6f00 = 153eb -> fold 53eb+1 = 53ec;
 * complement: ac13.
 */
MPX_TEST(wire_mptcp_dss_csum_hand_vector)
{
    const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};
    const uint8_t ff4[] = {0xff, 0xff, 0xff, 0xff};

    CHECK_EQ(mpx_mptcp_dss_csum(0x0102030405060708ULL, 1, 5, 0, hello, sizeof(hello)), 0xac13);
    /* Second vector, computed the same way: 1112+1314+1516+1718+3132+3334
     * +0004+ffff+ffff -> b4be, complement 4b41. */
    CHECK_EQ(mpx_mptcp_dss_csum(0x1112131415161718ULL, 0x31323334, 4, 0, ff4, sizeof(ff4)), 0x4b41);
    /* All-ones pseudo-header, no payload: the sum is ffff, checksum 0. */
    CHECK_EQ(mpx_mptcp_dss_csum(UINT64_MAX, UINT32_MAX, 0xffff, 0, NULL, 0), 0x0000);
}

/* The DSN is always summed as 64 bits, whatever the DSS carries: two DSNs
 * with the same low 32 bits give different checksums. */
MPX_TEST(wire_mptcp_dss_csum_uses_full_dsn)
{
    const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};

    CHECK(mpx_mptcp_dss_csum(0x0000000105060708ULL, 1, 5, 0, hello, 5) !=
          mpx_mptcp_dss_csum(0x0000000005060708ULL, 1, 5, 0, hello, 5));
}

/* Receive side: the sender's checksum placed in the zero field makes the
 * whole sum verify to 0; a flipped payload bit or a wrong DSN does not. */
MPX_TEST(wire_mptcp_dss_csum_receiver_verifies)
{
    uint8_t payload[1401];
    uint8_t opt[BUF_MAX];
    struct mpx_mptcp_opt o = mk(MPX_MPTCP_SUB_DSS), got;
    uint16_t c;

    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 131 + 7);
    c = mpx_mptcp_dss_csum(0xfedcba9876543210ULL, 77, sizeof(payload), 0, payload, sizeof(payload));
    /* Through the codec, as a sender would ship it. */
    o.u.dss.has_map = true;
    o.u.dss.dsn = 0x76543210; /* 32-bit DSS form, full DSN in the sum */
    o.u.dss.ssn = 77;
    o.u.dss.dll = sizeof(payload);
    o.u.dss.has_csum = true;
    o.u.dss.csum = c;
    int n = mpx_mptcp_encode(opt, sizeof(opt), &o);
    REQUIRE(n == 16);
    REQUIRE(mpx_mptcp_decode(opt, (size_t)n, F_ACK, &got) == n);
    CHECK_EQ(mpx_mptcp_dss_csum(0xfedcba9876543210ULL, got.u.dss.ssn, got.u.dss.dll, got.u.dss.csum,
                                payload, sizeof(payload)),
             0);
    CHECK(mpx_mptcp_dss_csum(0xfedcba9876543211ULL, 77, sizeof(payload), c, payload,
                             sizeof(payload)) != 0);
    payload[700] ^= 0x10;
    CHECK(mpx_mptcp_dss_csum(0xfedcba9876543210ULL, 77, sizeof(payload), c, payload,
                             sizeof(payload)) != 0);
}

/* ---- MP_CAPABLE acceptance (Linux rules + E) ------------------------------ */

struct acc {
    const char *name;
    enum mpx_hs_form form;
    uint8_t version, flags;
    bool ext_enabled, want;
};

/* clang-format off */
static const struct acc accs[] = {
    {"syn_h", MPX_FORM_SYN, 1, 0x01, false, true},
    {"syn_a_c_h", MPX_FORM_SYN, 1, 0xa1, false, true},
    {"syn_v2", MPX_FORM_SYN, 2, 0x01, false, true},
    {"syn_v15", MPX_FORM_SYN, 15, 0x01, false, true},
    {"syn_v0", MPX_FORM_SYN, 0, 0x01, false, false},
    {"syn_b", MPX_FORM_SYN, 1, 0x41, false, false},
    {"syn_no_algo", MPX_FORM_SYN, 1, 0x00, false, false},
    {"syn_d_h", MPX_FORM_SYN, 1, 0x11, false, false},
    {"syn_f_h", MPX_FORM_SYN, 1, 0x05, false, false},
    {"syn_g_h", MPX_FORM_SYN, 1, 0x03, false, false},
    {"syn_e_only", MPX_FORM_SYN, 1, 0x08, true, false},
    {"syn_e_h_ext", MPX_FORM_SYN, 1, 0x09, true, true},
    {"syn_e_h_no_ext", MPX_FORM_SYN, 1, 0x09, false, true}, /* D3: answer in RFC 8684 form */
    {"synack_h", MPX_FORM_SYNACK, 1, 0x01, false, true},
    {"synack_h_ext", MPX_FORM_SYNACK, 1, 0x01, true, true}, /* D3: peer declined E */
    {"synack_v2", MPX_FORM_SYNACK, 2, 0x01, false, false},
    {"synack_v0", MPX_FORM_SYNACK, 0, 0x01, false, false},
    {"synack_e_h_ext", MPX_FORM_SYNACK, 1, 0x09, true, true},
    {"synack_e_h_no_ext", MPX_FORM_SYNACK, 1, 0x09, false, false}, /* D5 */
    {"synack_b", MPX_FORM_SYNACK, 1, 0x49, true, false},
    {"ack_h", MPX_FORM_ACK, 1, 0x81, false, true},
    {"ack_v2", MPX_FORM_ACK, 2, 0x01, false, false},
    {"ack_e_h_ext", MPX_FORM_ACK, 1, 0x89, true, true},
    {"ack_e_h_no_ext", MPX_FORM_ACK, 1, 0x09, false, false}, /* D5 */
    {"ack_e_g_h_ext", MPX_FORM_ACK, 1, 0x0b, true, false},
};
/* clang-format on */

MPX_TEST(wire_mptcp_mpc_acceptable_rules)
{
    for (size_t i = 0; i < sizeof(accs) / sizeof(accs[0]); i++) {
        struct mpx_opt_mpc m;
        memset(&m, 0, sizeof(m));
        m.form = accs[i].form;
        m.version = accs[i].version;
        m.flags = accs[i].flags;
        if (mpx_mptcp_mpc_acceptable(&m, accs[i].ext_enabled) != accs[i].want)
            mpx_test_fail(__FILE__, __LINE__, "%s: want %d", accs[i].name, accs[i].want);
    }
}

/* ---- the draft's choices, one test each (docs/draft-interpretation.md) ---- */

static int dec(const char *hex, uint8_t tcp_flags, struct mpx_mptcp_opt *o)
{
    uint8_t in[BUF_MAX];
    int n = unhex(hex, in);
    return mpx_mptcp_decode(in, (size_t)n, tcp_flags, o);
}

static void enc_eq(const struct mpx_mptcp_opt *o, const char *hex)
{
    uint8_t out[BUF_MAX], want[BUF_MAX];
    int wn = unhex(hex, want);
    int n = mpx_mptcp_encode(out, sizeof(out), o);
    if (n != wn || memcmp(out, want, (size_t)wn) != 0)
        mpx_test_fail(__FILE__, __LINE__, "encode gave %s, want %s",
                      mpx_test_hex(out, n > 0 ? (size_t)n : 0), hex);
}

/* D1: the draft's "TBD" flag is E, 0x08 of the flags byte, sent with H. */
MPX_TEST(wire_mptcp_d1_e_flag_is_0x08)
{
    struct mpx_mptcp_opt o;

    CHECK_EQ(MPX_MPC_F_E, 0x08);
    REQUIRE(dec("1e 08 01 09 05 06 07 08", F_SYNACK, &o) == 8);
    CHECK(o.u.mpc.flags & MPX_MPC_F_E);
    CHECK(o.u.mpc.flags & MPX_MPC_F_H);
    CHECK_EQ(o.u.mpc.snd_token, 0x05060708);
    /* D..G other than E are not E: 0x10|H with 8 bytes is no E form. */
    CHECK_INT(dec("1e 08 01 11 05 06 07 08", F_SYNACK, &o), MPX_ERR_PROTO);
}

/* D6: E-mode lengths SYN 4, SYN/ACK 8, ACK 12, +DLL 14, +DLL+csum 16,
 * chosen by (SYN/ACK flags, E, length) like Linux; tokens in the order
 * sender, receiver (third ACK: initiator's, then responder's). */
MPX_TEST(wire_mptcp_d6_e_mode_lengths)
{
    struct mpx_mptcp_opt o;

    CHECK_INT(dec("1e 04 01 09", F_SYN, &o), 4);
    CHECK_EQ(o.u.mpc.form, MPX_FORM_SYN);
    CHECK_INT(dec("1e 08 01 09 0a 0b 0c 0d", F_SYNACK, &o), 8);
    CHECK_EQ(o.u.mpc.form, MPX_FORM_SYNACK);
    CHECK_INT(dec("1e 0c 01 09 01 02 03 04 05 06 07 08", F_ACK, &o), 12);
    CHECK_EQ(o.u.mpc.snd_token, 0x01020304);
    CHECK_EQ(o.u.mpc.rcv_token, 0x05060708);
    CHECK(!o.u.mpc.has_dll);
    CHECK_INT(dec("1e 0e 01 09 01 02 03 04 05 06 07 08 05 a0", F_ACK, &o), 14);
    CHECK(o.u.mpc.has_dll && !o.u.mpc.has_csum && o.u.mpc.dll == 1440);
    CHECK_INT(dec("1e 10 01 89 01 02 03 04 05 06 07 08 05 a0 ab cd", F_ACK, &o), 16);
    CHECK(o.u.mpc.has_dll && o.u.mpc.has_csum && o.u.mpc.csum == 0xabcd);
    /* The same 12 bytes are an RFC 8684 SYN/ACK without E, an E ACK with. */
    CHECK_INT(dec("1e 0c 01 01 01 02 03 04 05 06 07 08", F_SYNACK, &o), 12);
    CHECK_EQ(o.u.mpc.snd_key, 0x0102030405060708ULL);
}

/* D5: a length that does not match the E flag is malformed, never guessed
 * into the other layout. */
MPX_TEST(wire_mptcp_d5_e_length_mismatch_is_proto)
{
    struct mpx_mptcp_opt o;

    CHECK_INT(dec("1e 0c 01 09 01 02 03 04 05 06 07 08", F_SYNACK, &o), MPX_ERR_PROTO);
    CHECK_INT(dec("1e 08 01 01 01 02 03 04", F_SYNACK, &o), MPX_ERR_PROTO);
    CHECK_INT(dec("1e 14 01 09 01 02 03 04 05 06 07 08 01 02 03 04 05 06 07 08", F_ACK, &o),
              MPX_ERR_PROTO);
    CHECK_INT(dec("1e 0c 01 01 01 02 03 04 05 06 07 08", F_ACK, &o), MPX_ERR_PROTO);
}

/* The 14-byte E-mode MP_CAPABLE is written as 14 bytes; the two NOPs that
 * align it belong to the TCP writer (as Linux pads 22 to 24). Decoding
 * takes exactly 14 and leaves the NOPs to the option loop. */
MPX_TEST(wire_mptcp_mpc_e_ack_data_14_unpadded)
{
    struct mpx_mptcp_opt o;
    uint8_t out[BUF_MAX];

    memset(out, 0xcc, sizeof(out));
    REQUIRE(dec("1e 0e 01 09 01 02 03 04 05 06 07 08 05 a0 01 01", F_ACK, &o) == 14);
    CHECK_INT(mpx_mptcp_len(&o), 14);
    CHECK_INT(mpx_mptcp_encode(out, sizeof(out), &o), 14);
    CHECK(out[14] == 0xcc && out[15] == 0xcc);
    enc_eq(&o, "1e 0e 01 09 01 02 03 04 05 06 07 08 05 a0");
}

/* D10: NEW_KEY is kind 30, subtype 0x9, length 12, K = 0x01 of byte 2,
 * byte 3 sent as 0 and ignored on receipt, then 64 bits of HMAC. */
MPX_TEST(wire_mptcp_d10_new_key_layout)
{
    struct mpx_mptcp_opt o;

    REQUIRE(dec("1e 0c 91 ff 6b 98 90 5e 16 80 d5 d5", F_ACK, &o) == 12);
    CHECK_EQ(o.subtype, MPX_MPTCP_SUB_NEW_KEY);
    CHECK(o.u.new_key.key_id);
    CHECK_EQ(o.u.new_key.hmac, 0x6b98905e1680d5d5ULL);
    enc_eq(&o, "1e 0c 91 00 6b 98 90 5e 16 80 d5 d5");
    /* K in 0x02 is not K: reserved, ignored. */
    REQUIRE(dec("1e 0c 92 00 00 00 00 00 00 00 00 01", F_ACK, &o) == 12);
    CHECK(!o.u.new_key.key_id);
    CHECK(strcmp(mpx_mptcp_subtype_name(MPX_MPTCP_SUB_NEW_KEY), "NEW_KEY") == 0);
}

/* D21: K bit positions: MP_JOIN 0x02 of byte 2 in SYN, and echoed at the
 * same place in SYN/ACK and ACK (B stays 0x01); ADD_ADDR 0x02 (E echo is
 * 0x01); MP_FASTCLOSE 0x01; NEW_KEY 0x01. */
MPX_TEST(wire_mptcp_d21_k_bit_positions)
{
    struct mpx_mptcp_opt o;

    REQUIRE(dec("1e 0c 12 05 00 00 00 01 00 00 00 02", F_SYN, &o) == 12);
    CHECK(o.u.join.key_id && !o.u.join.backup);
    REQUIRE(dec("1e 0c 11 05 00 00 00 01 00 00 00 02", F_SYN, &o) == 12);
    CHECK(!o.u.join.key_id && o.u.join.backup);
    REQUIRE(dec("1e 10 13 05 00 00 00 00 00 00 00 01 00 00 00 02", F_SYNACK, &o) == 16);
    CHECK(o.u.join.key_id && o.u.join.backup);
    REQUIRE(dec("1e 18 12 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", F_ACK,
                &o) == 24);
    CHECK(o.u.join.key_id);
    o.u.join.backup = true; /* no B in the ACK form: not written */
    enc_eq(&o, "1e 18 12 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    REQUIRE(dec("1e 08 33 01 0a 00 02 01", F_ACK, &o) == 8);
    CHECK(o.u.add_addr.key_id && o.u.add_addr.echo);
    REQUIRE(dec("1e 10 32 01 0a 00 02 01 51 b0 92 51 eb cf ce 85", F_ACK, &o) == 16);
    CHECK(o.u.add_addr.key_id && !o.u.add_addr.echo && o.u.add_addr.has_hmac);
    REQUIRE(dec("1e 0c 71 00 0b f1 51 f1 41 78 2a 4b", F_RST, &o) == 12);
    CHECK(o.u.fastclose.key_id);
    REQUIRE(dec("1e 0c 72 00 0b f1 51 f1 41 78 2a 4b", F_RST, &o) == 12);
    CHECK(!o.u.fastclose.key_id); /* 0x02 is reserved in MP_FASTCLOSE */
    REQUIRE(dec("1e 0c 91 00 00 00 00 00 00 00 00 00", F_ACK, &o) == 12);
    CHECK(o.u.new_key.key_id);
}

/* MP_JOIN's form follows the segment, like MP_CAPABLE's: a 12-byte join
 * on a SYN/ACK or a 24-byte one on a SYN is malformed. */
MPX_TEST(wire_mptcp_join_form_follows_tcp_flags)
{
    struct mpx_mptcp_opt o;

    CHECK_INT(dec("1e 0c 10 05 00 00 00 01 00 00 00 02", F_SYN, &o), 12);
    CHECK_INT(dec("1e 0c 10 05 00 00 00 01 00 00 00 02", F_SYNACK, &o), MPX_ERR_PROTO);
    CHECK_INT(dec("1e 0c 10 05 00 00 00 01 00 00 00 02", F_ACK, &o), MPX_ERR_PROTO);
    CHECK_INT(dec("1e 10 10 05 00 00 00 00 00 00 00 01 00 00 00 02", F_SYNACK, &o), 16);
    CHECK_INT(dec("1e 10 10 05 00 00 00 00 00 00 00 01 00 00 00 02", F_SYN, &o), MPX_ERR_PROTO);
}

/* DSS a without A and m without M: Linux only sizes fields with them when
 * A / M is set, so alone they change nothing; the codec drops them (the
 * struct says ack64/dsn64 only when the field exists). */
MPX_TEST(wire_mptcp_dss_lone_a_m_ignored)
{
    struct mpx_mptcp_opt o;

    REQUIRE(dec("1e 04 20 0a", F_ACK, &o) == 4);
    CHECK(!o.u.dss.has_ack && !o.u.dss.ack64 && !o.u.dss.has_map && !o.u.dss.dsn64);
    enc_eq(&o, "1e 04 20 00");
    /* a alone does not make a 32-bit DATA_ACK 64-bit: 8 bytes is wrong. */
    CHECK_INT(dec("1e 0c 20 0a 00 00 00 00 00 00 00 01", F_ACK, &o), MPX_ERR_PROTO);
}

/* A checksum-sized tail without a mapping: accepted and skipped, as Linux
 * does ("always parse any csum presence combination"). */
MPX_TEST(wire_mptcp_dss_csum_without_map_skipped)
{
    struct mpx_mptcp_opt o;

    REQUIRE(dec("1e 0a 20 01 00 00 00 09 be ef", F_ACK, &o) == 10);
    CHECK(o.u.dss.has_ack && o.u.dss.data_ack == 9);
    CHECK(!o.u.dss.has_csum && o.u.dss.csum == 0);
    enc_eq(&o, "1e 08 20 01 00 00 00 09");
}

/* Decoding is pure: an MP_CAPABLE with version 0 or B set decodes (so it
 * can be counted); acceptance is a separate call. */
MPX_TEST(wire_mptcp_mpc_decodes_unacceptable)
{
    struct mpx_mptcp_opt o;

    REQUIRE(dec("1e 04 00 01", F_SYN, &o) == 4);
    CHECK(!mpx_mptcp_mpc_acceptable(&o.u.mpc, false));
    REQUIRE(dec("1e 04 01 41", F_SYN, &o) == 4);
    CHECK(!mpx_mptcp_mpc_acceptable(&o.u.mpc, false));
    REQUIRE(dec("1e 04 01 01", F_SYN, &o) == 4);
    CHECK(mpx_mptcp_mpc_acceptable(&o.u.mpc, false));
    /* B with a length no form has: an extension we cannot frame. */
    CHECK_INT(dec("1e 06 01 41 00 00", F_SYN, &o), MPX_ERR_IGNORED);
    CHECK_INT(dec("1e 06 01 01 00 00", F_SYN, &o), MPX_ERR_PROTO);
}

/* MP_TCPRST is decoded only on RST segments (RFC 8684 section 3.6; Linux
 * ignores it elsewhere). */
MPX_TEST(wire_mptcp_tcprst_only_on_rst)
{
    struct mpx_mptcp_opt o;

    CHECK_INT(dec("1e 04 81 03", MPX_TH_RST, &o), 4);
    CHECK_EQ(o.u.tcprst.flags, MPX_TCPRST_F_T);
    CHECK_EQ(o.u.tcprst.reason, MPX_RST_EPROHIBIT);
    CHECK_INT(dec("1e 04 81 03", F_ACK, &o), MPX_ERR_IGNORED);
    CHECK_EQ(o.subtype, MPX_MPTCP_SUB_TCPRST);
    CHECK_EQ(o.u.tcprst.reason, 0);
}

MPX_TEST(wire_mptcp_subtype_names)
{
    static const char *const want[] = {"MP_CAPABLE",  "MP_JOIN", "DSS",     "ADD_ADDR",
                                       "REMOVE_ADDR", "MP_PRIO", "MP_FAIL", "MP_FASTCLOSE",
                                       "MP_TCPRST",   "NEW_KEY", "unknown", "unknown",
                                       "unknown",     "unknown", "unknown", "MP_EXPERIMENTAL"};
    for (int i = 0; i < 16; i++)
        if (strcmp(mpx_mptcp_subtype_name((enum mpx_mptcp_subtype)i), want[i]) != 0)
            mpx_test_fail(__FILE__, __LINE__, "subtype %d: %s", i,
                          mpx_mptcp_subtype_name((enum mpx_mptcp_subtype)i));
}

/* ---- length sweeps: every length 3..40 against the accepted set ---------- */

/* Decode a |len|-byte option of zeros with the given byte 2 and byte 3,
 * from a heap block of exactly |len| bytes. */
static int sweep_dec(uint8_t b2, uint8_t b3, size_t len, uint8_t tcp_flags)
{
    struct mpx_mptcp_opt o;
    uint8_t *p = calloc(1, len);
    int rv;

    if (!p)
        return MPX_ERR_NOMEM;
    p[0] = MPX_TCPOPT_MPTCP;
    p[1] = (uint8_t)len;
    p[2] = b2;
    if (len > 3)
        p[3] = b3;
    rv = mpx_mptcp_decode(p, len, tcp_flags, &o);
    free(p);
    return rv;
}

static void sweep_check(const char *what, int x, size_t len, int rv, bool accept)
{
    int want = accept ? (int)len : MPX_ERR_PROTO;
    if (rv != want)
        mpx_test_fail(__FILE__, __LINE__, "%s 0x%02x len %zu: %d, want %d", what, x, len, rv, want);
}

/* ADD_ADDR (Linux mptcp_parse_option): without E exactly 16, 18, 28, 30;
 * with E exactly 8, 10, 20, 22; K and reserved bits change nothing. */
MPX_TEST(wire_mptcp_add_addr_length_sweep)
{
    for (int low = 0; low < 16; low++) {
        bool echo = low & ADD_ADDR_ECHO_BIT;
        for (size_t len = 3; len <= 40; len++) {
            bool ok = echo ? (len == 8 || len == 10 || len == 20 || len == 22)
                           : (len == 16 || len == 18 || len == 28 || len == 30);
            sweep_check("add_addr", low, len, sweep_dec((uint8_t)(0x30 | low), 1, len, F_ACK), ok);
        }
    }
}

/* DSS: for every flags byte, exactly the length the flags say, or 2 more. */
MPX_TEST(wire_mptcp_dss_length_sweep)
{
    for (int fl = 0; fl < 256; fl++) {
        size_t exp = 4;
        if (fl & 0x01)
            exp += (fl & 0x02) ? 8 : 4;
        if (fl & 0x04)
            exp += (fl & 0x08) ? 14 : 10;
        for (size_t len = 3; len <= 40; len++)
            sweep_check("dss", fl, len, sweep_dec(0x20, (uint8_t)fl, len, F_ACK),
                        len == exp || len == exp + 2);
    }
}

/* MP_CAPABLE: the accepted lengths per (TCP flags, E). */
MPX_TEST(wire_mptcp_mpc_length_sweep)
{
    static const struct {
        uint8_t tcp_flags, mpc_flags;
        size_t lens[3];
    } cases[] = {
        {F_SYN, 0x01, {4, 4, 4}},         {F_SYN, 0x09, {4, 4, 4}},
        {F_SYNACK, 0x01, {12, 12, 12}},   {F_SYNACK, 0x09, {8, 8, 8}},
        {F_ACK, 0x01, {20, 22, 24}},      {F_ACK, 0x09, {12, 14, 16}},
        {MPX_TH_RST, 0x01, {20, 22, 24}}, {0, 0x89, {12, 14, 16}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (size_t len = 3; len <= 40; len++) {
            bool ok = len == cases[i].lens[0] || len == cases[i].lens[1] || len == cases[i].lens[2];
            sweep_check("mpc case", (int)i, len,
                        sweep_dec(0x01, cases[i].mpc_flags, len, cases[i].tcp_flags), ok);
        }
}

/* The fixed-length options and REMOVE_ADDR's 4..11. */
MPX_TEST(wire_mptcp_fixed_length_sweep)
{
    static const struct {
        uint8_t b2, tcp_flags;
        size_t min, max;
    } cases[] = {
        {0x10, F_SYN, 12, 12}, {0x10, F_SYNACK, 16, 16}, {0x10, F_ACK, 24, 24},
        {0x40, F_ACK, 4, 11},  {0x50, F_ACK, 3, 3},      {0x60, F_ACK, 12, 12},
        {0x70, F_ACK, 12, 12}, {0x80, F_RST, 4, 4},      {0x90, F_ACK, 12, 12},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (size_t len = 3; len <= 40; len++)
            sweep_check("subtype byte", cases[i].b2, len,
                        sweep_dec(cases[i].b2, 0, len, cases[i].tcp_flags),
                        len >= cases[i].min && len <= cases[i].max);
}

/* ---- property: whatever decodes re-encodes to itself ------------------- */

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random options (subtype, length, flag bytes and TCP flags drawn so that
 * every subtype and form is hit): whenever decode succeeds, encoding the
 * result gives a valid option no longer than the input (shorter only when
 * a DSS checksum tail without mapping was skipped), decoding that gives
 * the same struct, and encoding again gives the same bytes (the
 * normalisation is a fixed point). Deterministic seed, so a failure
 * reproduces. */
MPX_TEST(wire_mptcp_random_decode_encode_decode)
{
    static const uint8_t tflags[] = {F_SYN, F_SYNACK, F_ACK, F_RST, 0};
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    uint8_t in[40], out[BUF_MAX];
    struct mpx_mptcp_opt a, b;
    unsigned decoded = 0;

    for (int it = 0; it < 200000; it++) {
        uint64_t r = xorshift(&seed);
        size_t len = 3 + (size_t)(r % 38);
        uint8_t tf = tflags[(r >> 8) % sizeof(tflags)];
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)xorshift(&seed);
        in[0] = MPX_TCPOPT_MPTCP;
        in[1] = (uint8_t)len;
        in[2] = (uint8_t)((((r >> 16) % 10) << 4) | (in[2] & 0x0f));
        int rv = mpx_mptcp_decode(in, len, tf, &a);
        if (rv < 0)
            continue;
        decoded++;
        int n = mpx_mptcp_encode(out, sizeof(out), &a);
        bool dss_tail = a.subtype == MPX_MPTCP_SUB_DSS && !a.u.dss.has_map && n == rv - 2;
        if (n != rv && !dss_tail) {
            mpx_test_fail(__FILE__, __LINE__, "it %d: %s decoded %d, encoded %d", it,
                          mpx_test_hex(in, len), rv, n);
            break;
        }
        if (mpx_mptcp_decode(out, (size_t)n, tf, &b) != n || !opt_eq("random", &b, &a)) {
            mpx_test_fail(__FILE__, __LINE__, "it %d: %s does not round-trip", it,
                          mpx_test_hex(in, len));
            break;
        }
        uint8_t again[BUF_MAX];
        if (mpx_mptcp_encode(again, sizeof(again), &b) != n || memcmp(again, out, (size_t)n)) {
            mpx_test_fail(__FILE__, __LINE__, "it %d: not a fixed point", it);
            break;
        }
    }
    CHECK(decoded > 10000);
}
