/*
 * pcap.c - classic pcap writer (see pcap.h for the format choices).
 */
#include "pcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct mpx_pcap {
    FILE *fp;
    uint32_t snaplen;
    int err; /* first error (-errno), sticky */
    uint64_t count;
};

/* Little-endian stores: pcap readers detect byte order from the magic, and
 * a fixed order keeps files identical across hosts. */
static uint8_t *put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put_le32(uint8_t *p, uint32_t v)
{
    p = put_le16(p, (uint16_t)v);
    return put_le16(p, (uint16_t)(v >> 16));
}

static int write_all(struct mpx_pcap *p, const void *buf, size_t len)
{
    if (p->err)
        return p->err;
    if (len && fwrite(buf, 1, len, p->fp) != len)
        p->err = errno ? -errno : -EIO;
    return p->err;
}

struct mpx_pcap *mpx_pcap_open(const char *path, uint32_t snaplen)
{
    uint8_t hdr[MPX_PCAP_FILE_HDR_LEN], *q = hdr;
    struct mpx_pcap *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->snaplen = snaplen ? snaplen : MPX_PCAP_SNAPLEN_MAX;
    p->fp = fopen(path, "wb");
    if (!p->fp) {
        free(p);
        return NULL;
    }
    q = put_le32(q, MPX_PCAP_MAGIC_NS);
    q = put_le16(q, MPX_PCAP_VERSION_MAJ);
    q = put_le16(q, MPX_PCAP_VERSION_MIN);
    q = put_le32(q, 0); /* thiszone: GMT */
    q = put_le32(q, 0); /* sigfigs */
    q = put_le32(q, p->snaplen);
    put_le32(q, MPX_PCAP_LINKTYPE_RAW);
    if (write_all(p, hdr, sizeof(hdr)) < 0) {
        int e = -p->err;
        fclose(p->fp);
        free(p);
        errno = e;
        return NULL;
    }
    return p;
}

int mpx_pcap_write(struct mpx_pcap *p, uint64_t ts_ns, const uint8_t *pkt, size_t len)
{
    uint8_t rec[MPX_PCAP_REC_HDR_LEN], *q = rec;
    uint32_t orig = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    uint32_t incl = orig > p->snaplen ? p->snaplen : orig;

    q = put_le32(q, (uint32_t)(ts_ns / 1000000000u));
    q = put_le32(q, (uint32_t)(ts_ns % 1000000000u)); /* ns: magic 0xa1b23c4d */
    q = put_le32(q, incl);
    put_le32(q, orig);
    if (write_all(p, rec, sizeof(rec)) < 0 || write_all(p, pkt, incl) < 0)
        return p->err;
    p->count++;
    return 0;
}

int mpx_pcap_flush(struct mpx_pcap *p)
{
    if (!p->err && fflush(p->fp) != 0)
        p->err = errno ? -errno : -EIO;
    return p->err;
}

uint64_t mpx_pcap_count(const struct mpx_pcap *p)
{
    return p->count;
}

int mpx_pcap_close(struct mpx_pcap *p)
{
    int err;
    if (!p)
        return 0;
    err = mpx_pcap_flush(p);
    if (fclose(p->fp) != 0 && !err)
        err = errno ? -errno : -EIO;
    free(p);
    return err;
}
