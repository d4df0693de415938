/*
 * A minimal HTTP/1.1 server with keep-alive, for `make bench` (scripts/bench.py) only.
 *
 * The test app's busybox httpd answers every request with `Connection: close`, so it cannot show
 * what a persistent client connection does during Slipway's swap, nor how fast the port forwarder
 * relays requests on one connection. This server answers any request with the bytes of one file
 * (read once at start) and keeps the connection open unless the client asks to close it.
 *
 * Every response names the container in `X-Served-By` (its hostname), so a client can tell which
 * container answered even when two run the same version.
 *
 * With a third argument, BIG, `GET /big.bin` answers that file instead, sent with sendfile(2) from
 * disk (benchmark 9's 100 MB download), so the server never holds it in memory.
 *
 * Usage: bench-keepalive-server PORT FILE [BIG]. One process per connection (fork), SIGTERM exits at
 * once (as PID 1 in a container it would otherwise be ignored), children die with PID 1.
 * Built statically by bench.py (`cc -O2 -static`) and copied into an image FROM the busybox base.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

static char *body;
static size_t body_len;
static char host[128] = "unknown";
static int big_fd = -1;
static off_t big_len;

static void on_term(int sig) { (void)sig; _exit(0); }

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        p += w; n -= (size_t)w;
    }
    return 0;
}

/* Case-insensitive search for a header token within the request head. */
static int head_has(const char *head, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(head + i, needle, n) == 0) return 1;
    return 0;
}

static void serve(int fd) {
    char buf[16384];
    size_t have = 0;
    char header[256];
    int hl = snprintf(header, sizeof header,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\nX-Served-By: %s\r\n",
                      body_len, host);
    for (;;) {
        char *end = NULL;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
            if (have == sizeof buf) return;               /* head too large */
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 75000) <= 0) return;          /* idle: close */
            ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return;
            have += (size_t)r;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        int close_after = head_has(buf, head_len, "\nConnection: close") ||
                          (head_has(buf, head_len, " HTTP/1.0\r\n") && !head_has(buf, head_len, "\nConnection: keep-alive"));
        int is_head = strncmp(buf, "HEAD ", 5) == 0;
        int is_big = big_fd >= 0 && strncmp(buf, "GET /big.bin ", 13) == 0;
        if (is_big) {
            char big_header[256];
            int bl = snprintf(big_header, sizeof big_header,
                              "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %lld\r\nX-Served-By: %s\r\n",
                              (long long)big_len, host);
            if (send_all(fd, big_header, (size_t)bl) < 0) return;
        } else if (send_all(fd, header, (size_t)hl) < 0) return;
        const char *tail = close_after ? "Connection: close\r\n\r\n" : "\r\n";
        if (send_all(fd, tail, strlen(tail)) < 0) return;
        if (is_big) {
            off_t off = 0;                                 /* our own offset: the fd is shared with siblings */
            while (off < big_len) {
                ssize_t w = sendfile(fd, big_fd, &off, (size_t)(big_len - off));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) return;
            }
        } else if (!is_head && send_all(fd, body, body_len) < 0) return;
        if (close_after) { shutdown(fd, SHUT_WR); return; }
        memmove(buf, buf + head_len, have - head_len);    /* pipelined requests */
        have -= head_len;
    }
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) { fprintf(stderr, "usage: %s PORT FILE [BIG]\n", argv[0]); return 2; }
    if (argc == 4) {
        struct stat big;
        big_fd = open(argv[3], O_RDONLY);
        if (big_fd < 0 || fstat(big_fd, &big) < 0) { perror(argv[3]); return 1; }
        big_len = big.st_size;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 1; }
    struct stat st;
    fstat(fileno(f), &st);
    body_len = (size_t)st.st_size;
    body = malloc(body_len + 1);
    if (fread(body, 1, body_len, f) != body_len) { perror("read"); return 1; }
    fclose(f);
    gethostname(host, sizeof host - 1);                   /* in a container: its short id */

    struct sigaction sa = {0};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction chld = {0};
    chld.sa_handler = SIG_IGN;
    chld.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &chld, NULL);

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 1024) < 0) { perror("listen"); return 1; }
    fprintf(stderr, "listening on :%s\n", argv[1]);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) { if (errno == EINTR) continue; usleep(10000); continue; }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pid_t pid = fork();
        if (pid == 0) {
            close(ls);
            sa.sa_handler = SIG_DFL;                      /* children: killed with PID 1 */
            sigaction(SIGTERM, &sa, NULL);
            serve(c);
            _exit(0);
        }
        close(c);
    }
}
