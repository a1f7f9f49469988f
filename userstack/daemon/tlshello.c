/*
 * tlshello.c - which bridged connection carries a given TLS session, by the
 * ClientHello random (issue 8, DESIGN.md decision 7's last resort).
 *
 * The shim's TLS hooks normally know the socket fd of a TLS session. A
 * program that drives OpenSSL through memory BIOs and moves the bytes itself
 * (Python's asyncio SSLObject, some event libraries) gives no fd; tlshooks
 * then offers the session's ClientHello.random. The daemon sees every byte
 * of each bridged connection, so it keeps the first MPXD_HELLO_LEN bytes of
 * the client->server stream: a TLS record header (RFC 8446 section 5.1:
 * type 22 handshake, legacy version 0x03xx, length), the handshake header
 * (type 1 ClientHello, 24-bit length), legacy_version (2 bytes), then the
 * 32-byte random at offsets 11..42 (notes/tlshooks.md section 4.1). A
 * stream that does not start like that is marked "not TLS" at its first
 * byte that disagrees and costs nothing more.
 */
#include <errno.h>
#include <string.h>

#include "daemon.h"
#include "engine.h"

#define RANDOM_OFF 11

/* Is byte |i| of a ClientHello stream plausible? */
static bool hello_byte_ok(size_t i, uint8_t v)
{
    switch (i) {
    case 0:
        return v == 22; /* ContentType handshake */
    case 1:
        return v == 3; /* legacy_record_version 0x03xx */
    case 5:
        return v == 1; /* HandshakeType client_hello */
    case 9:
        return v == 3; /* legacy_version 0x03xx */
    default:
        return true;
    }
}

void mpxd_hello_sniff(struct mpxd_bridge *b, const uint8_t *p, size_t n, bool to_net)
{
    /* the client->server direction: what the app sends on a connection it
     * opened, what the network delivers on an accepted one */
    if (to_net == b->server || b->hello_len >= MPXD_HELLO_LEN)
        return;
    for (size_t k = 0; k < n && b->hello_len < MPXD_HELLO_LEN; k++) {
        if (!hello_byte_ok(b->hello_len, p[k])) {
            b->hello_len = MPXD_HELLO_NOT_TLS;
            return;
        }
        b->hello[b->hello_len++] = p[k];
    }
}

void mpxd_conn_find(struct mpxd *d, struct mpxd_client *c, uint32_t id,
                    const struct mpx_rpc_conn_find *req)
{
    uint32_t cidx = mpxd_idx((uint16_t)(c - d->clients), c->gen);
    struct mpx_rpc_conn_info ci;

    for (int i = 0; i < MPXD_MAX_BRIDGES; i++) {
        const struct mpxd_bridge *b = &d->bridges[i];
        if ((b->state != MPXD_BR_CONNECTING && b->state != MPXD_BR_OPEN) ||
            b->hello_len != MPXD_HELLO_LEN || (c->uid != 0 && b->uid != c->uid) ||
            memcmp(b->hello + RANDOM_OFF, req->client_random, MPX_RPC_RANDOM_LEN) != 0)
            continue;
        if (mpx_eng_conn_info(d->eng, b->conn, &ci, mpxd_now()) < 0)
            break;
        ci.uid = (uint32_t)b->uid;
        ci.flags |= b->server ? MPX_RPC_CONN_F_SERVER : 0;
        ci.extkey_policy = b->extkey_policy;
        mpxd_rpc_send(d, cidx, MPX_RPC_CONN_INFO, id, &ci,
                      mpx_rpc_body_size(MPX_RPC_CONN_INFO, ci.n_sf));
        return;
    }
    mpxd_rpc_status(d, cidx, id, -ENOENT, "no connection with that ClientHello");
}
