/*
 * The app behind the HTTP edge in the end-to-end tests (Tests/E2E/test_edge_apps.py).
 *
 * busybox httpd, the other tests' app, closes every connection after one response and knows
 * neither chunked bodies nor WebSocket, so it cannot show what a reverse proxy does with them.
 * This server speaks HTTP/1.1 with keep-alive and pipelining, reads request bodies framed by
 * Content-Length or chunked, and answers:
 *
 *   GET  /               a small HTML page naming the version (the browser test opens it)
 *   GET  /version        the version, read at start from the file named by argv[2]
 *   GET  /headers        the request head exactly as it arrived (request line and header lines)
 *   POST /echo           the body back: chunked when the request was chunked, else with a length;
 *                        X-Echo-Framing says which framing the request had
 *   GET  /bytes?n=N      N bytes, byte i being i % 251, with a Content-Length; `&chunked=1` as
 *                        chunks, `&close=1` with no length, ended by closing the connection
 *   POST /sink           reads the body; answers "<bytes> <crc32 in hex>"
 *   GET  /sleep?ms=N     answers after N milliseconds
 *   GET  /hop            an answer carrying hop-by-hop headers, which the edge must drop
 *   GET  /reset          closes the connection with a reset, answering nothing
 *   GET  /bye            answers as if keeping the connection, then closes it
 *   POST /early          answers 413 without reading the body, and closes
 *   GET  /ws             WebSocket (RFC 6455): echoes text and binary frames, answers pings,
 *                        returns the close frame and closes
 *
 * Every answer names the container in X-Served-By (its hostname), the version in X-App-Version,
 * and in X-Connection-Request how many requests its connection has carried (so a client can
 * tell which container and version answered, and whether a proxy reused its connection). One process per connection
 * (fork); SIGTERM exits at once (as PID 1 in a container it would otherwise be ignored), and the
 * children die with PID 1. Standard C and POSIX only: the tests build it with `cc -O2 -static`
 * and copy it into an image FROM the busybox base image.
 *
 * Usage: edgeapp PORT VERSION_FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* nginx's default for a request head is 8 KiB in one buffer and 32 KiB in large ones; the edge
 * itself limits heads, so this only has to hold what it forwards. */
#define BUFFER_SIZE 65536
#define MAX_HEAD 65536
/* /echo holds the whole body so it can answer after reading it (answering while the edge is
 * still sending could fill both directions' socket buffers and stall). */
#define MAX_ECHO (64 * 1024 * 1024)
#define MAX_WS_PAYLOAD (16 * 1024 * 1024)
#define PATTERN_PERIOD 251

static char version[256] = "unknown";
static char hostname[128] = "unknown";
/* Requests served on this connection so far (each connection has a process of its own), sent as
 * X-Connection-Request: 1 on a fresh connection, more on one a proxy kept and reused. */
static long connection_requests;

static void on_term(int sig) { (void)sig; _exit(0); }

/* --- The connection: a socket and what was read from it but not yet used -------------------- */

struct conn {
    int fd;
    char buf[BUFFER_SIZE];
    size_t start, end; /* unread bytes are buf[start..<end] */
};

static size_t buffered(const struct conn *c) { return c->end - c->start; }

/* Reads more bytes; 1 when some arrived, 0 at the end of the stream or on an error. */
static int fill(struct conn *c) {
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, buffered(c));
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == sizeof c->buf) return 0;
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->end, sizeof c->buf - c->end, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        c->end += (size_t)n;
        return 1;
    }
}

static int send_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_text(int fd, const char *text) { return send_all(fd, text, strlen(text)); }

static int read_exact(struct conn *c, void *dst, size_t n) {
    char *out = dst;
    while (n > 0) {
        if (buffered(c) == 0 && !fill(c)) return -1;
        size_t take = buffered(c) < n ? buffered(c) : n;
        memcpy(out, c->buf + c->start, take);
        c->start += take;
        out += take;
        n -= take;
    }
    return 0;
}

/* One line ending in CRLF, without it, into `line`; -1 at the end of the stream or if too long. */
static int read_line(struct conn *c, char *line, size_t cap) {
    for (;;) {
        char *crlf = memmem(c->buf + c->start, buffered(c), "\r\n", 2);
        if (crlf) {
            size_t len = (size_t)(crlf - (c->buf + c->start));
            if (len + 1 > cap) return -1;
            memcpy(line, c->buf + c->start, len);
            line[len] = 0;
            c->start += len + 2;
            return 0;
        }
        if (!fill(c)) return -1;
    }
}

/* The request head up to the empty line, NUL-terminated, without the final CRLF CRLF. */
static int read_head(struct conn *c, char *head, size_t cap) {
    for (;;) {
        char *end = memmem(c->buf + c->start, buffered(c), "\r\n\r\n", 4);
        if (end) {
            size_t len = (size_t)(end - (c->buf + c->start));
            if (len + 1 > cap) return -1;
            memcpy(head, c->buf + c->start, len);
            head[len] = 0;
            c->start += len + 4;
            return 0;
        }
        if (!fill(c)) return -1;
    }
}

/* --- The request ----------------------------------------------------------------------------- */

struct request {
    char head[MAX_HEAD];
    char method[16];
    char target[4096];
    char path[4096];
    char query[4096];
    int http10;
    int keep_alive;
    int chunked;
    long long length; /* -1: no Content-Length */
};

/* The value of header `name` (case-insensitive), trimmed, into `out`; 0 if present. */
static int header(const char *head, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    const char *line = strstr(head, "\r\n");
    while (line) {
        line += 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ' || *v == '\t') v++;
            const char *e = strstr(v, "\r\n");
            size_t len = e ? (size_t)(e - v) : strlen(v);
            while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
            if (len + 1 > cap) len = cap - 1;
            memcpy(out, v, len);
            out[len] = 0;
            return 0;
        }
        line = strstr(line, "\r\n");
    }
    return -1;
}

static int has_token(const char *value, const char *token) {
    size_t n = strlen(token);
    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == ',') p++;
        if (strncasecmp(p, token, n) == 0 && (p[n] == 0 || p[n] == ',' || p[n] == ' ')) return 1;
        while (*p && *p != ',') p++;
    }
    return 0;
}

static int parse_request(struct request *r) {
    char version_text[16];
    if (sscanf(r->head, "%15s %4095s %15s", r->method, r->target, version_text) != 3) return -1;
    r->http10 = strcmp(version_text, "HTTP/1.0") == 0;
    char *q = strchr(r->target, '?');
    size_t plen = q ? (size_t)(q - r->target) : strlen(r->target);
    memcpy(r->path, r->target, plen);
    r->path[plen] = 0;
    snprintf(r->query, sizeof r->query, "%s", q ? q + 1 : "");

    char value[512];
    int close = header(r->head, "Connection", value, sizeof value) == 0 && has_token(value, "close");
    r->keep_alive = !r->http10 && !close;
    r->chunked = header(r->head, "Transfer-Encoding", value, sizeof value) == 0 && has_token(value, "chunked");
    r->length = -1;
    if (!r->chunked && header(r->head, "Content-Length", value, sizeof value) == 0) r->length = atoll(value);
    return 0;
}

static long long query_number(const char *query, const char *name, long long fallback) {
    size_t n = strlen(name);
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') return atoll(p + n + 1);
    }
    return fallback;
}

/* --- Request bodies ---------------------------------------------------------------------------- */

struct body {
    int chunked;
    long long remaining; /* bytes left of a Content-Length body, or of the current chunk */
    int done;
};

static void body_start(struct body *b, const struct request *r) {
    b->chunked = r->chunked;
    b->remaining = r->chunked ? 0 : (r->length > 0 ? r->length : 0);
    b->done = !r->chunked && b->remaining == 0;
}

/* Up to `cap` bytes of the body into `out`: the count, 0 at its end, -1 on a broken stream. */
static long body_read(struct conn *c, struct body *b, char *out, size_t cap) {
    if (b->done) return 0;
    if (b->chunked && b->remaining == 0) {
        char line[256];
        if (read_line(c, line, sizeof line) < 0) return -1;
        long long size = strtoll(line, NULL, 16); /* an extension after ';' is ignored */
        if (size < 0) return -1;
        if (size == 0) {
            do { /* trailers, up to the empty line */
                if (read_line(c, line, sizeof line) < 0) return -1;
            } while (line[0] != 0);
            b->done = 1;
            return 0;
        }
        b->remaining = size;
    }
    if (buffered(c) == 0 && !fill(c)) return -1;
    size_t take = buffered(c);
    if ((long long)take > b->remaining) take = (size_t)b->remaining;
    if (take > cap) take = cap;
    memcpy(out, c->buf + c->start, take);
    c->start += take;
    b->remaining -= (long long)take;
    if (b->remaining == 0) {
        if (b->chunked) {
            char crlf[2];
            if (read_exact(c, crlf, 2) < 0 || crlf[0] != '\r' || crlf[1] != '\n') return -1;
        } else {
            b->done = 1;
        }
    }
    return (long)take;
}

static int body_drain(struct conn *c, struct body *b) {
    char scratch[BUFFER_SIZE];
    long n;
    while ((n = body_read(c, b, scratch, sizeof scratch)) > 0) {}
    return n < 0 ? -1 : 0;
}

/* --- Answers ----------------------------------------------------------------------------------- */

/* Sends a head: the status line, X-Served-By, `extra` (complete lines), then Content-Length when
 * `length` >= 0 and Connection: close when the connection will close. */
static int send_head(int fd, int status, const char *reason, const char *type, long long length, int keep_alive,
                     const char *extra) {
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nX-Served-By: %s\r\nX-App-Version: %s\r\nX-Connection-Request: %ld\r\n%s",
                     status, reason, type, hostname, version, connection_requests, extra ? extra : "");
    if (length >= 0) n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %lld\r\n", length);
    if (!keep_alive) n += snprintf(head + n, sizeof head - (size_t)n, "Connection: close\r\n");
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    return send_all(fd, head, (size_t)n);
}

static int answer(int fd, int status, const char *reason, const char *type, const char *body, size_t len, int keep_alive,
                  int head_only) {
    if (send_head(fd, status, reason, type, (long long)len, keep_alive, NULL) < 0) return -1;
    return head_only ? 0 : send_all(fd, body, len);
}

static int send_chunk_ext(int fd, const char *data, size_t len, const char *ext) {
    char size[64];
    int n = snprintf(size, sizeof size, "%zx%s\r\n", len, ext);
    if (send_all(fd, size, (size_t)n) < 0 || send_all(fd, data, len) < 0) return -1;
    return send_all(fd, "\r\n", 2);
}

static int send_chunk(int fd, const char *data, size_t len) { return send_chunk_ext(fd, data, len, ""); }

/* --- CRC-32 (IEEE 802.3, as zlib.crc32 computes it) ------------------------------------------- */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* --- SHA-1 (FIPS 180-4) and base64, for the WebSocket handshake -------------------------------- */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
    uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    size_t total = ((len + 8) / 64 + 1) * 64; /* room for 0x80 and the 64-bit length */
    unsigned char *m = calloc(total, 1);
    if (!m) _exit(1);
    memcpy(m, msg, len);
    m[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) m[total - 1 - (size_t)i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++) {
            const unsigned char *p = m + off + 4 * (size_t)i;
            w[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        }
        for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999u; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1u; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6u; }
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d; d = c; c = rol(b, 30); b = a; a = t;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
    free(m);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(h[i] >> 8);
        out[4 * i + 3] = (unsigned char)h[i];
    }
}

static void base64(const unsigned char *in, size_t len, char *out) {
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
        out[o++] = digits[(v >> 18) & 63];
        out[o++] = digits[(v >> 12) & 63];
        out[o++] = i + 1 < len ? digits[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? digits[v & 63] : '=';
    }
    out[o] = 0;
}

/* --- WebSocket --------------------------------------------------------------------------------- */

static int send_frame(int fd, int opcode, const unsigned char *payload, size_t len) {
    unsigned char head[10];
    size_t n = 0;
    head[n++] = (unsigned char)(0x80 | opcode); /* FIN: the server never fragments */
    if (len < 126) {
        head[n++] = (unsigned char)len;
    } else if (len < 65536) {
        head[n++] = 126;
        head[n++] = (unsigned char)(len >> 8);
        head[n++] = (unsigned char)len;
    } else {
        head[n++] = 127;
        for (int i = 7; i >= 0; i--) head[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    if (send_all(fd, head, n) < 0) return -1;
    return len ? send_all(fd, payload, len) : 0;
}

/* The handshake, then frames until a close: each client frame must be masked (RFC 6455 5.1). */
static void websocket(struct conn *c, const struct request *r) {
    char key[256], upgrade[64];
    if (header(r->head, "Upgrade", upgrade, sizeof upgrade) < 0 || strcasecmp(upgrade, "websocket") != 0 ||
        header(r->head, "Sec-WebSocket-Key", key, sizeof key) < 0) {
        const char *msg = "a WebSocket upgrade needs Upgrade: websocket and Sec-WebSocket-Key\n";
        answer(c->fd, 400, "Bad Request", "text/plain", msg, strlen(msg), 0, 0);
        return;
    }
    char joined[512];
    snprintf(joined, sizeof joined, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char digest[20];
    sha1((const unsigned char *)joined, strlen(joined), digest);
    char accept[32];
    base64(digest, sizeof digest, accept);
    char head[512];
    snprintf(head, sizeof head,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\nX-Served-By: %s\r\nX-App-Version: %s\r\n\r\n", accept, hostname, version);
    if (send_text(c->fd, head) < 0) return;

    unsigned char *payload = malloc(MAX_WS_PAYLOAD);
    if (!payload) return;
    for (;;) {
        unsigned char h[2];
        if (read_exact(c, h, 2) < 0) break;
        int opcode = h[0] & 0x0f;
        int masked = h[1] & 0x80;
        uint64_t len = h[1] & 0x7f;
        if (len == 126) {
            unsigned char e[2];
            if (read_exact(c, e, 2) < 0) break;
            len = (uint64_t)e[0] << 8 | e[1];
        } else if (len == 127) {
            unsigned char e[8];
            if (read_exact(c, e, 8) < 0) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | e[i];
        }
        if (!masked || len > MAX_WS_PAYLOAD) {
            send_frame(c->fd, 0x8, (const unsigned char *)"\x03\xea", 2); /* 1002: protocol error */
            break;
        }
        unsigned char mask[4];
        if (read_exact(c, mask, 4) < 0 || read_exact(c, payload, (size_t)len) < 0) break;
        for (uint64_t i = 0; i < len; i++) payload[i] ^= mask[i % 4];
        if (opcode == 0x8) { /* close: answer with the same status, then close */
            send_frame(c->fd, 0x8, payload, (size_t)len);
            break;
        }
        int reply = opcode == 0x9 ? 0xA : opcode; /* a ping gets a pong; data comes back as it went */
        if (opcode == 0xA) continue;
        if (send_frame(c->fd, reply, payload, (size_t)len) < 0) break;
    }
    free(payload);
}

/* --- Routes ------------------------------------------------------------------------------------ */

static char pattern[BUFFER_SIZE + PATTERN_PERIOD];

/* GET /bytes: the pattern, N bytes of it, framed as asked. 1: keep the connection, 0: close it.
 * Legal oddities a proxy must cope with, each on request: `interim=1` sends a 103 first;
 * `ext=1` adds chunk extensions, `trailer=1` a trailer field; `both=1` sends a Content-Length
 * beside Transfer-Encoding: chunked (RFC 9112 section 6.3: the chunks win); `http10=1` answers
 * with an HTTP/1.0 status line and ends the body with the close. */
static int bytes(struct conn *c, const struct request *r) {
    long long n = query_number(r->query, "n", 0);
    int http10_answer = query_number(r->query, "http10", 0);
    int chunked = query_number(r->query, "chunked", 0) && !r->http10 && !http10_answer;
    int until_close = query_number(r->query, "close", 0) || http10_answer || (query_number(r->query, "chunked", 0) && r->http10);
    int keep = r->keep_alive && !until_close;
    int head_only = strcmp(r->method, "HEAD") == 0;
    const char *ext = query_number(r->query, "ext", 0) ? ";name=value;flag" : "";
    if (query_number(r->query, "interim", 0) &&
        send_text(c->fd, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n") < 0) return 0;
    if (http10_answer) {
        char head[256];
        snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nX-App-Version: %s\r\n\r\n", version);
        if (send_text(c->fd, head) < 0) return 0;
    } else {
        const char *extra = !chunked ? NULL
            : query_number(r->query, "both", 0) ? "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n" : "Transfer-Encoding: chunked\r\n";
        if (send_head(c->fd, 200, "OK", "application/octet-stream", chunked || until_close ? -1 : n, keep, extra) < 0) return 0;
    }
    if (head_only) return keep;
    for (long long off = 0; off < n;) {
        size_t len = n - off < BUFFER_SIZE ? (size_t)(n - off) : BUFFER_SIZE;
        const char *p = pattern + off % PATTERN_PERIOD;
        if ((chunked ? send_chunk_ext(c->fd, p, len, ext) : send_all(c->fd, p, len)) < 0) return 0;
        off += (long long)len;
    }
    if (chunked) {
        const char *last = query_number(r->query, "trailer", 0) ? "0\r\nX-Trailer: yes\r\n\r\n" : "0\r\n\r\n";
        if (send_text(c->fd, last) < 0) return 0;
    }
    return keep;
}

static int sink(struct conn *c, const struct request *r, struct body *b) {
    static char scratch[BUFFER_SIZE];
    long long total = 0;
    uint32_t crc = 0;
    long n;
    while ((n = body_read(c, b, scratch, sizeof scratch)) > 0) {
        crc = crc_update(crc, (unsigned char *)scratch, (size_t)n);
        total += n;
    }
    if (n < 0) return 0;
    char text[64];
    int len = snprintf(text, sizeof text, "%lld %08x", total, crc);
    return answer(c->fd, 200, "OK", "text/plain", text, (size_t)len, r->keep_alive, 0) == 0 && r->keep_alive;
}

static int echo(struct conn *c, const struct request *r, struct body *b) {
    size_t cap = BUFFER_SIZE, len = 0;
    char *data = malloc(cap);
    if (!data) return 0;
    long n;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_ECHO) { free(data); return 0; }
            cap *= 2;
            char *grown = realloc(data, cap);
            if (!grown) { free(data); return 0; }
            data = grown;
        }
        n = body_read(c, b, data + len, cap - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    if (n < 0) { free(data); return 0; }
    int ok;
    if (r->chunked) {
        ok = send_head(c->fd, 200, "OK", "application/octet-stream", -1, r->keep_alive,
                       "Transfer-Encoding: chunked\r\nX-Echo-Framing: chunked\r\n") == 0;
        /* Odd-sized chunks, so the client sees the edge re-frame rather than pass ours through. */
        for (size_t off = 0; ok && off < len; off += 1000) ok = send_chunk(c->fd, data + off, len - off < 1000 ? len - off : 1000) == 0;
        ok = ok && send_text(c->fd, "0\r\n\r\n") == 0;
    } else {
        ok = send_head(c->fd, 200, "OK", "application/octet-stream", (long long)len, r->keep_alive,
                       r->length >= 0 ? "X-Echo-Framing: length\r\n" : "X-Echo-Framing: none\r\n") == 0
             && send_all(c->fd, data, len) == 0;
    }
    free(data);
    return ok && r->keep_alive;
}

/* One request; 1 when the connection carries on to the next. */
static int handle(struct conn *c, struct request *r) {
    struct body b;
    body_start(&b, r);
    int head_only = strcmp(r->method, "HEAD") == 0;
    if (strcmp(r->path, "/sink") == 0) return sink(c, r, &b);
    if (strcmp(r->path, "/echo") == 0) return echo(c, r, &b);
    if (strcmp(r->path, "/early") == 0) {
        /* Refuses the body unread, as an app with a size limit of its own does; closing with
         * the body unread makes the kernel reset the connection. */
        const char *msg = "too big for the app\n";
        answer(c->fd, 413, "Content Too Large", "text/plain", msg, strlen(msg), 0, 0);
        return 0;
    }
    if (body_drain(c, &b) < 0) return 0;

    if (strcmp(r->path, "/ws") == 0) {
        websocket(c, r);
        return 0;
    }
    if (strcmp(r->path, "/reset") == 0) {
        struct linger now = {1, 0}; /* close with RST, the way a crashing app drops a connection */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
        return 0;
    }
    if (strcmp(r->path, "/bytes") == 0) return bytes(c, r);

    char text[MAX_HEAD + 256];
    int len;
    const char *type = "text/plain";
    if (strcmp(r->path, "/version") == 0) {
        len = snprintf(text, sizeof text, "%s", version);
    } else if (strcmp(r->path, "/headers") == 0) {
        len = snprintf(text, sizeof text, "%s\r\n", r->head);
    } else if (strcmp(r->path, "/sleep") == 0) {
        long long ms = query_number(r->query, "ms", 0);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
        len = snprintf(text, sizeof text, "slept %lld", ms);
    } else if (strcmp(r->path, "/bye") == 0) {
        /* Says nothing of closing, then closes: a kept-alive connection that the app ends, as
         * one with an idle timeout of its own does. */
        answer(c->fd, 200, "OK", "text/plain", "bye", 3, 1, head_only);
        return 0;
    } else if (strcmp(r->path, "/hop") == 0) {
        const char *extra = "Connection: X-Hop-Secret\r\nX-Hop-Secret: 1\r\nKeep-Alive: timeout=99\r\n"
                            "Proxy-Connection: keep-alive\r\nX-Kept: 1\r\n";
        if (send_head(c->fd, 200, "OK", "text/plain", 3, r->keep_alive, extra) < 0) return 0;
        return (head_only || send_all(c->fd, "hop", 3) == 0) && r->keep_alive;
    } else if (strcmp(r->path, "/") == 0) {
        type = "text/html; charset=utf-8";
        len = snprintf(text, sizeof text,
                       "<!doctype html><html><head><title>edgeapp %s</title></head>"
                       "<body><h1 id=\"version\">edgeapp %s</h1><p id=\"host\"></p>"
                       "<script>document.getElementById('host').textContent = 'at ' + location.host;</script>"
                       "</body></html>\n", version, version);
    } else {
        len = snprintf(text, sizeof text, "no route for %s\n", r->path);
        return answer(c->fd, 404, "Not Found", "text/plain", text, (size_t)len, r->keep_alive, head_only) == 0 && r->keep_alive;
    }
    return answer(c->fd, 200, "OK", type, text, (size_t)len, r->keep_alive, head_only) == 0 && r->keep_alive;
}

static void serve(int fd) {
    static struct conn c;
    static struct request r;
    c.fd = fd;
    c.start = c.end = 0;
    for (;;) {
        if (read_head(&c, r.head, sizeof r.head) < 0) return;
        if (parse_request(&r) < 0) {
            const char *msg = "bad request line\n";
            answer(fd, 400, "Bad Request", "text/plain", msg, strlen(msg), 0, 0);
            return;
        }
        connection_requests++;
        if (!handle(&c, &r)) return;
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT VERSION_FILE\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (f) {
        size_t n = fread(version, 1, sizeof version - 1, f);
        fclose(f);
        while (n > 0 && (version[n - 1] == '\n' || version[n - 1] == '\r' || version[n - 1] == ' ')) n--;
        version[n] = 0;
    }
    gethostname(hostname, sizeof hostname - 1);
    crc_init();
    for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (char)(i % PATTERN_PERIOD);

    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
    signal(SIGPIPE, SIG_IGN);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])), .sin_addr.s_addr = INADDR_ANY};
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 512) < 0) {
        perror("bind/listen");
        return 1;
    }
    printf("edgeapp %s listening on %s\n", version, argv[1]);
    fflush(stdout);
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd < 0) continue;
        pid_t pid = fork();
        if (pid == 0) {
            close(s);
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* outside a container too, never outlive the server */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            serve(fd);
            close(fd);
            _exit(0);
        }
        close(fd);
    }
}
