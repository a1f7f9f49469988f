/*
 * Test application for tests/test_tlshooks.py (not part of the product):
 * an OpenSSL client and server in one process over a loopback TCP
 * connection, driven non-blocking from one thread. It checks what an app
 * sees of tlshooks: its own info callback is still called for every event
 * (installed three ways), SSL_get_info_callback returns its own pointer, the
 * error queue stays empty; and it can bypass the interposed SSL_new (private
 * dlopen handle), renegotiate (TLS 1.2) or recycle its SSL objects with
 * SSL_clear for a second connection, or resume with 0-RTT data. It prints one summary line that
 * must be identical with and without the preload, then the app's own export.
 *
 * usage: tlsh_cbapp CERT KEY MODE VERSION [KEYLOG]   MODE: ctx-before |
 *        ctx-after | ssl | bypass | reneg | clear | early; VERSION: 1.2 | 1.3
 * With KEYLOG (the test host's key log, already written by the hooks when the
 * handshake is done), the app exports with the context logged there
 * (use_context=1) instead of none: the hooks' key must equal that.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static int events[2], dones[2]; /* [0] client, [1] server */

static void app_cb(const SSL *s, int where, int ret)
{
    (void)ret;
    int i = SSL_is_server((SSL *)s) ? 1 : 0;
    events[i]++;
    if (where & SSL_CB_HANDSHAKE_DONE)
        dones[i]++;
}

static int tcp_pair(int fds[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &al))
        return -1;
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof(a)))
        return -1;
    fds[1] = accept(l, NULL, NULL);
    close(l);
    if (fds[1] < 0)
        return -1;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    return 0;
}

/* Step both ends until done(c, s) says so; bounded. */
static int drive(SSL *c, SSL *s, int reneg)
{
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        if (!reneg) {
            int rc = SSL_do_handshake(c), rs = SSL_do_handshake(s);
            if (rc == 1 && rs == 1)
                return 0;
        } else {
            SSL_do_handshake(c);
            SSL_read(s, buf, sizeof(buf)); /* the server handles the reneg here */
            SSL_read(c, buf, sizeof(buf));
            if (!SSL_renegotiate_pending(c) && dones[1] >= 2)
                return 0;
        }
        usleep(50);
    }
    return -1;
}

/* Recycle both SSL objects with SSL_clear for a second connection. */
static int second_connection(SSL *c, SSL *s)
{
    int fds[2];
    if (!SSL_clear(c) || !SSL_clear(s) || tcp_pair(fds) || !SSL_set_fd(c, fds[0]) ||
        !SSL_set_fd(s, fds[1]))
        return -1;
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    return drive(c, s, 0);
}

/* The client's resumable session, once the server's TLS 1.3 ticket (sent
 * after the handshake) has been read. */
static SSL_SESSION *ticket(SSL *c)
{
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        SSL_read(c, buf, sizeof(buf));
        SSL_SESSION *sess = SSL_get1_session(c);
        if (sess && SSL_SESSION_get_max_early_data(sess) > 0)
            return sess;
        SSL_SESSION_free(sess);
        usleep(50);
    }
    return NULL;
}

/* A second connection resuming the first one's session with 0-RTT data. The
 * client's state machine reports HANDSHAKE_DONE prematurely there, where the
 * exporter fails and pushes an error (notes/tlshooks.md §3.2): the hooks must
 * neither consume their one export on it nor leave the error queued, or the
 * app's next SSL_get_error would say SSL_ERROR_SSL. */
static int early_connection(SSL_CTX *cc, SSL_CTX *sc, SSL *first)
{
    SSL_SESSION *sess = ticket(first);
    int fds[2];
    if (!sess || tcp_pair(fds))
        return -1;
    SSL *c = SSL_new(cc), *s = SSL_new(sc);
    if (!c || !s || !SSL_set_fd(c, fds[0]) || !SSL_set_fd(s, fds[1]) || !SSL_set_session(c, sess))
        return -1;
    SSL_SESSION_free(sess);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    char buf[64];
    size_t n;
    int sent = 0, got = 0, ok = -1;
    for (int i = 0; i < 200000 && ok < 0; i++) {
        int rc = sent ? SSL_do_handshake(c) : (sent = SSL_write_early_data(c, "early", 5, &n));
        if (ERR_peek_error()) /* an app may look at the queue after any call */
            return -3;
        if (!sent && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ &&
            SSL_get_error(c, rc) != SSL_ERROR_WANT_WRITE)
            break;
        int rs = got ? SSL_do_handshake(s) : SSL_read_early_data(s, buf, sizeof(buf), &n);
        got = got || rs == SSL_READ_EARLY_DATA_FINISH;
        if (sent && rc == 1 && got && SSL_is_init_finished(s))
            ok = SSL_get_early_data_status(s) == SSL_EARLY_DATA_ACCEPTED ? 0 : -2;
        usleep(50);
    }
    SSL_free(c);
    SSL_free(s);
    return ok;
}

/* The context field (third) of the first line of the key log, 16 hex digits. */
static int read_ctx(const char *path, unsigned char ctx[8])
{
    char role[16], ver[16], hex[17];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = fscanf(f, "%15s %15s %16s", role, ver, hex);
    fclose(f);
    if (n != 3 || strlen(hex) != 16)
        return -1;
    for (int i = 0; i < 8; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        ctx[i] = (unsigned char)v;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6)
        return 2;
    const char *mode = argv[3];
    int v12 = strcmp(argv[4], "1.2") == 0, reneg = strcmp(mode, "reneg") == 0;
    SSL_CTX *cc = SSL_CTX_new(TLS_client_method()), *sc = SSL_CTX_new(TLS_server_method());
    if (!cc || !sc || SSL_CTX_use_certificate_file(sc, argv[1], SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(sc, argv[2], SSL_FILETYPE_PEM) != 1)
        return 3;
    if (v12 || reneg) {
        SSL_CTX_set_max_proto_version(cc, TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(sc, TLS1_2_VERSION);
    }
    SSL_CTX_set_options(sc, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    SSL_CTX_set_max_early_data(sc, 1024); /* tickets of the first connection allow 0-RTT */
    if (strcmp(mode, "ctx-after") && strcmp(mode, "ssl")) {
        SSL_CTX_set_info_callback(cc, app_cb);
        SSL_CTX_set_info_callback(sc, app_cb);
    }
    SSL *(*new_fn)(SSL_CTX *) = SSL_new;
    if (strcmp(mode, "bypass") == 0) {
        void *h = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
        new_fn = h ? (SSL * (*)(SSL_CTX *)) dlsym(h, "SSL_new") : NULL;
        if (!new_fn)
            return 4;
    }
    int fds[2];
    if (tcp_pair(fds))
        return 5;
    SSL *c = new_fn(cc), *s = new_fn(sc);
    if (!c || !s || !SSL_set_fd(c, fds[0]) || !SSL_set_fd(s, fds[1]))
        return 6;
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (strcmp(mode, "ctx-after") == 0) {
        SSL_CTX_set_info_callback(cc, app_cb);
        SSL_CTX_set_info_callback(sc, app_cb);
    } else if (strcmp(mode, "ssl") == 0) {
        SSL_set_info_callback(c, app_cb);
        SSL_set_info_callback(s, app_cb);
    }
    int getcb_ok = SSL_get_info_callback(c) == (strcmp(mode, "ssl") == 0 ? app_cb : NULL) &&
                   SSL_get_info_callback(s) == SSL_get_info_callback(c);
    if (drive(c, s, 0))
        return 7;
    /* The app's own RFC 5705 export (no context) after the first handshake:
     * the test compares it with the hooks' value (MPXTLSH_TEST_NOCTX=1). */
    static const char label[] = "EXPERIMENTAL-mptcp-external-key";
    unsigned char km[32], ctx[8];
    size_t ctx_len = 0;
    if (argc == 6 && read_ctx(argv[5], ctx))
        return 10;
    if (argc == 6)
        ctx_len = sizeof(ctx);
    if (SSL_export_keying_material(c, km, sizeof(km), label, strlen(label), ctx, ctx_len,
                                   ctx_len > 0) != 1)
        return 9;
    if (reneg && (SSL_renegotiate(c) != 1 || drive(c, s, 1)))
        return 8;
    if (strcmp(mode, "clear") == 0 && second_connection(c, s))
        return 11;
    if (strcmp(mode, "early") == 0 && early_connection(cc, sc, c))
        return 13;
    printf("mode=%s version=%s events=%d/%d done=%d/%d getcb=%d err=%lu\n", mode,
           SSL_get_version(c), events[0], events[1], dones[0], dones[1], getcb_ok,
           ERR_peek_error());
    printf("export=");
    for (size_t i = 0; i < sizeof(km); i++)
        printf("%02x", km[i]);
    printf("\n");
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cc);
    SSL_CTX_free(sc);
    return 0;
}
