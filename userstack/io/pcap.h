/*
 * pcap.h - a writer of classic pcap files (the libpcap format, as read by
 * Wireshark and tshark), with nanosecond timestamps and raw IP packets.
 *
 * File header: magic 0xa1b23c4d (the nanosecond-resolution variant), version
 * 2.4, snaplen, link type LINKTYPE_RAW (101): every record is a bare IPv4 or
 * IPv6 packet, told apart by its version nibble. All fields are written
 * little-endian whatever the host, so files are byte-identical across
 * machines for the same run. Used by the simulated network (virtual clock)
 * and by the daemon (--pcap, real clock).
 */
#ifndef MPX_PCAP_H
#define MPX_PCAP_H

#include <stddef.h>
#include <stdint.h>

#define MPX_PCAP_MAGIC_NS     0xa1b23c4du
#define MPX_PCAP_VERSION_MAJ  2
#define MPX_PCAP_VERSION_MIN  4
#define MPX_PCAP_LINKTYPE_RAW 101u
#define MPX_PCAP_FILE_HDR_LEN 24
#define MPX_PCAP_REC_HDR_LEN  16
#define MPX_PCAP_SNAPLEN_MAX  262144u

struct mpx_pcap;

/* Creates (truncates) |path| and writes the file header. |snaplen| 0 means
 * MPX_PCAP_SNAPLEN_MAX; longer packets are truncated to it (orig_len keeps
 * the real length). Returns NULL with errno set on failure. */
struct mpx_pcap *mpx_pcap_open(const char *path, uint32_t snaplen);
/* Appends one record: |pkt| (|len| bytes, borrowed) at |ts_ns|
 * nanoseconds (since the epoch, or virtual time). Returns 0 or -errno. */
int mpx_pcap_write(struct mpx_pcap *p, uint64_t ts_ns, const uint8_t *pkt, size_t len);
/* Flushes buffered records to the file. Returns 0 or -errno. */
int mpx_pcap_flush(struct mpx_pcap *p);
/* Records written so far. */
uint64_t mpx_pcap_count(const struct mpx_pcap *p);
/* Flushes and closes; returns 0 or -errno (the first write error seen, if
 * any). NULL is a no-op returning 0. */
int mpx_pcap_close(struct mpx_pcap *p);

#endif /* MPX_PCAP_H */
