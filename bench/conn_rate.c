/*
 * conn_rate.c - connection rate and bulk sender/receiver for
 * bench/shim_bench.py (a benchmark, not a test).
 *
 * Plain sockets only, so the same binary measures kernel MPTCP and, under
 * LD_PRELOAD=build/libmptcpext.so, the shim (whatever the shim interposes,
 * this program does not know about it). Every socket is
 * socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) unless --tcp.
 *
 *   conn_rate client ADDR PORT SECONDS [--rw] [--tcp]
 *       one thread: socket / connect (blocking) / [write 1 byte, read 1
 *       byte] / close, for SECONDS; prints one JSON line: connections,
 *       seconds, rate, errors, and the median / 99th percentile of the
 *       connect() and whole-iteration times in microseconds.
 *   conn_rate server PORT [--rw] [--tcp]
 *       accept loop: [read 1 byte, write it back] / close. Prints
 *       "listening" once it listens; runs until killed.
 *   conn_rate bulk ADDR PORT SECONDS [--tcp]
 *       connect, write 64 KiB blocks for SECONDS, shutdown(SHUT_WR), wait
 *       for the peer's EOF; prints bytes and seconds.
 *   conn_rate gen SECONDS
 *       the same blocks on stdout (for `mptcpext connect`).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define MAX_SAMPLES (1 << 22)
#define BLOCK       (1024 * 1024)

static int proto = IPPROTO_MPTCP;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double pct(float *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof(*v), cmp_float);
    return v[(size_t)(p * (double)(n - 1))];
}

static int parse_addr(const char *a, const char *port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(port));
    return inet_pton(AF_INET, a, &sa->sin_addr) == 1 ? 0 : -1;
}

static int full_write(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int run_client(const struct sockaddr_in *sa, double seconds, int rw)
{
    float *conn_us = malloc(MAX_SAMPLES * sizeof(float));
    float *iter_us = malloc(MAX_SAMPLES * sizeof(float));
    size_t n = 0;
    long errors = 0;
    int first_err = 0;
    double t0 = now_s(), end = t0 + seconds, t;

    if (!conn_us || !iter_us)
        return 1;
    while ((t = now_s()) < end && n < MAX_SAMPLES) {
        int fd = socket(AF_INET, SOCK_STREAM, proto);
        double tc;
        char c = 'x';
        if (fd < 0) {
            perror("socket");
            return 1;
        }
        if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
            if (!first_err)
                first_err = errno;
            errors++;
            close(fd);
            if (errors > 1000 && errors > (long)n)
                break;
            continue;
        }
        tc = now_s();
        if (rw && (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)) {
            if (!first_err)
                first_err = errno ? errno : EPIPE;
            errors++;
        }
        close(fd);
        conn_us[n] = (float)((tc - t) * 1e6);
        iter_us[n] = (float)((now_s() - t) * 1e6);
        n++;
    }
    t = now_s() - t0;
    printf("{\"connections\": %zu, \"seconds\": %.4f, \"rate\": %.1f, \"errors\": %ld, "
           "\"first_error\": \"%s\", \"connect_us_p50\": %.1f, \"connect_us_p90\": %.1f, "
           "\"connect_us_p99\": %.1f, \"connect_us_max\": %.1f, ",
           n, t, (double)n / t, errors, first_err ? strerror(first_err) : "", pct(conn_us, n, 0.5),
           pct(conn_us, n, 0.9), pct(conn_us, n, 0.99), pct(conn_us, n, 1));
    printf("\"iter_us_p50\": %.1f, \"iter_us_p99\": %.1f}\n", pct(iter_us, n, 0.5),
           pct(iter_us, n, 0.99));
    free(conn_us);
    free(iter_us);
    return n ? 0 : 1;
}

static int listen_on(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, l = socket(AF_INET, SOCK_STREAM, proto);
    if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 4096)) {
        perror("listen");
        return -1;
    }
    return l;
}

static int run_server(int port, int rw)
{
    int l = listen_on(port);
    if (l < 0)
        return 1;
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        char c;
        int fd = accept(l, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
                continue;
            perror("accept");
            return 1;
        }
        if (rw && read(fd, &c, 1) == 1 && write(fd, &c, 1) != 1) {
            /* the client went away: nothing to do */
        }
        close(fd);
    }
}

static int run_bulk(int fd, double seconds)
{
    static char block[BLOCK];
    unsigned long long bytes = 0;
    double t0 = now_s(), end = t0 + seconds;

    for (size_t i = 0; i < sizeof(block); i++)
        block[i] = (char)(i * 7 + 3);
    while (now_s() < end) {
        if (full_write(fd, block, sizeof(block))) {
            perror("write");
            return 1;
        }
        bytes += sizeof(block);
    }
    return fprintf(stderr, "{\"bytes\": %llu, \"seconds\": %.4f}\n", bytes, now_s() - t0) < 0;
}

static int run_bulk_sock(const struct sockaddr_in *sa, double seconds)
{
    char c;
    int fd = socket(AF_INET, SOCK_STREAM, proto), rc;
    if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
        perror("connect");
        return 1;
    }
    rc = run_bulk(fd, seconds);
    shutdown(fd, SHUT_WR);
    while (read(fd, &c, 1) > 0) /* the receiver closes once it has everything */
        ;
    close(fd);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: conn_rate client ADDR PORT SECONDS [--rw] [--tcp]\n"
                    "       conn_rate server PORT [--rw] [--tcp]\n"
                    "       conn_rate bulk ADDR PORT SECONDS [--tcp]\n"
                    "       conn_rate gen SECONDS\n");
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    int rw = 0, n = argc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rw"))
            rw = 1, n--;
        else if (!strcmp(argv[i], "--tcp"))
            proto = IPPROTO_TCP, n--;
    }
    if (n >= 5 && !strcmp(argv[1], "client") && !parse_addr(argv[2], argv[3], &sa))
        return run_client(&sa, atof(argv[4]), rw);
    if (n >= 3 && !strcmp(argv[1], "server"))
        return run_server(atoi(argv[2]), rw);
    if (n >= 5 && !strcmp(argv[1], "bulk") && !parse_addr(argv[2], argv[3], &sa))
        return run_bulk_sock(&sa, atof(argv[4]));
    if (n >= 3 && !strcmp(argv[1], "gen"))
        return run_bulk(1, atof(argv[2]));
    usage();
    return 2;
}
