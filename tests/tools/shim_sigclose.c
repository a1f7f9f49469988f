/*
 * shim_sigclose.c - close() from a signal handler under the shim
 * (tests/test_shim_errors.py). close() is async-signal-safe (POSIX), so
 * programs call it in handlers; the handler may interrupt the shim in the
 * same thread while it updates its fd table (shim/fdtab.c), which must
 * then not deadlock.
 *
 *   shim_sigclose ADDR PORT MS
 *
 * For MS milliseconds the main thread loops over socket(), a non-blocking
 * connect() to ADDR:PORT and close() of a working socket, and keeps a
 * small set of idle shimmed sockets filled; a SIGALRM every 100 us closes
 * one idle socket from the handler. Prints "ok N loops, M closed in the
 * handler" and exits 0; a hang is caught by the caller's deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NIDLE 16

static int idle[NIDLE];
static volatile sig_atomic_t handler_closed;

static void on_alarm(int sig)
{
    int saved = errno;
    (void)sig;
    for (int i = 0; i < NIDLE; i++) {
        int fd = __atomic_load_n(&idle[i], __ATOMIC_ACQUIRE);
        if (fd >= 0 && __atomic_compare_exchange_n(&idle[i], &fd, -1, false, __ATOMIC_ACQ_REL,
                                                   __ATOMIC_ACQUIRE)) {
            close(fd);
            handler_closed++;
            break;
        }
    }
    errno = saved;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    struct sigaction act;
    struct itimerval it = {{0, 100}, {0, 100}}, off = {{0, 0}, {0, 0}};
    long loops = 0;
    double end;

    if (argc != 4) {
        fprintf(stderr, "usage: shim_sigclose ADDR PORT MS\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
        printf("FAIL: bad address %s\n", argv[1]);
        return 1;
    }
    for (int i = 0; i < NIDLE; i++)
        idle[i] = -1;
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_alarm; /* no SA_RESTART: calls see EINTR, as programs do */
    sigaction(SIGALRM, &act, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    end = now_s() + atoi(argv[3]) / 1000.0;
    while (now_s() < end) {
        for (int i = 0; i < NIDLE; i++) {
            if (__atomic_load_n(&idle[i], __ATOMIC_ACQUIRE) >= 0)
                continue;
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0 && errno != EINTR) {
                printf("FAIL: socket: %s\n", strerror(errno));
                return 1;
            }
            if (fd >= 0)
                __atomic_store_n(&idle[i], fd, __ATOMIC_RELEASE);
        }
        int w = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (w >= 0) {
            if (connect(w, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS &&
                errno != EINTR) {
                printf("FAIL: connect: %s\n", strerror(errno));
                return 1;
            }
            close(w);
        }
        /* the main thread closes idle sockets too */
        int fd = __atomic_exchange_n(&idle[loops % NIDLE], -1, __ATOMIC_ACQ_REL);
        if (fd >= 0)
            close(fd);
        loops++;
    }
    setitimer(ITIMER_REAL, &off, NULL);
    for (int i = 0; i < NIDLE; i++)
        if (idle[i] >= 0)
            close(idle[i]);
    printf("ok %ld loops, %d closed in the handler\n", loops, (int)handler_closed);
    return 0;
}
