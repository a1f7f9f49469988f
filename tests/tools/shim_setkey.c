/*
 * shim_setkey - a program with its own per-connection secret, for
 * tests/test_e2e_tls.py: it installs the secret with the shim's public API
 * (shim/mptcpext.h, weak symbols as shim/README.md shows) and moves bytes.
 *
 *   shim_setkey server ADDR PORT KEYHEX BYTES   accept one connection, set
 *                                                the key, send BYTES bytes
 *   shim_setkey client ADDR PORT KEYHEX         connect, set the key, read
 *                                                to EOF, print the count and
 *                                                SHA-256-free checksum
 * KEYHEX "-" skips the set_key call; KEYHEX followed by ",rotate" also
 * rotates the key once it is active (mptcpext_rotate_key says EOPNOTSUPP
 * until then: retried every 10 ms for at most 10 s), printing "rotate 0". Prints "set_key 0" or
 * "set_key -1 <errno name>" on stderr, then (client) "bytes N sum S" on
 * stdout, where S is a 64-bit FNV-1a of the bytes (the server prints the
 * same for what it sent). The data is a deterministic pattern.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mptcpext.h"

#pragma weak mptcpext_set_key
#pragma weak mptcpext_rotate_key

static int unhex(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return (int)(n / 2);
}

static void rotate(int fd)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 1000; i++) {
        if (mptcpext_rotate_key(fd) == 0) {
            fprintf(stderr, "rotate 0\n");
            return;
        }
        if (errno != EOPNOTSUPP)
            break;
        nanosleep(&ts, NULL); /* the peer's NEW_KEY confirmation is on its way */
    }
    fprintf(stderr, "rotate -1 %s\n", strerrorname_np(errno));
}

static void give_key(int fd, const char *arg)
{
    unsigned char key[64];
    char hex[160];
    const char *comma = strchr(arg, ',');
    int n;
    if (!strcmp(arg, "-"))
        return;
    snprintf(hex, sizeof(hex), "%.*s", comma ? (int)(comma - arg) : (int)strlen(arg), arg);
    n = unhex(hex, key, sizeof(key));
    if (!mptcpext_set_key) {
        fprintf(stderr, "set_key absent (not under the shim)\n");
        return;
    }
    if (mptcpext_set_key(fd, key, n < 0 ? 0 : (size_t)n) == 0)
        fprintf(stderr, "set_key 0\n");
    else
        fprintf(stderr, "set_key -1 %s\n", strerrorname_np(errno));
    if (comma && !strcmp(comma, ",rotate") && mptcpext_rotate_key)
        rotate(fd);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void pattern(unsigned char *b, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(((off + i) * 2654435761u) >> 13);
}

static int server(const struct sockaddr_in *sa, const char *hex, long long total)
{
    static unsigned char buf[65536];
    int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), c;
    uint64_t h = 1469598103934665603ull;
    long long sent = 0;

    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l, (const struct sockaddr *)sa, sizeof(*sa)) || listen(l, 4)) {
        perror("bind/listen");
        return 1;
    }
    c = accept(l, NULL, NULL);
    if (c < 0) {
        perror("accept");
        return 1;
    }
    give_key(c, hex);
    while (sent < total) {
        long long left = total - sent;
        size_t n = left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf);
        ssize_t w;
        pattern(buf, n, (uint64_t)sent);
        w = write(c, buf, n);
        if (w <= 0) {
            perror("write");
            return 1;
        }
        h = fnv(h, buf, (size_t)w);
        sent += w;
    }
    shutdown(c, SHUT_WR);
    while (read(c, buf, sizeof(buf)) > 0)
        ;
    printf("bytes %lld sum %016llx\n", sent, (unsigned long long)h);
    close(c);
    close(l);
    return 0;
}

static int client(const struct sockaddr_in *sa, const char *hex)
{
    static unsigned char buf[65536];
    int s = socket(AF_INET, SOCK_STREAM, 0);
    uint64_t h = 1469598103934665603ull;
    long long got = 0;
    ssize_t n;

    if (connect(s, (const struct sockaddr *)sa, sizeof(*sa))) {
        perror("connect");
        return 1;
    }
    give_key(s, hex);
    while ((n = read(s, buf, sizeof(buf))) > 0) {
        h = fnv(h, buf, (size_t)n);
        got += n;
    }
    printf("bytes %lld sum %016llx\n", got, (unsigned long long)h);
    close(s);
    return n < 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (argc < 5 || inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) {
        fprintf(stderr, "usage: shim_setkey server|client ADDR PORT KEYHEX [BYTES]\n");
        return 2;
    }
    sa.sin_port = htons((uint16_t)atoi(argv[3]));
    if (!strcmp(argv[1], "server"))
        return server(&sa, argv[4], argc > 5 ? atoll(argv[5]) : 1000000);
    return client(&sa, argv[4]);
}
