#ifndef SLIPWAY_CSYSTEM_SHIM_H
#define SLIPWAY_CSYSTEM_SHIM_H
// Linux calls that Swift's Glibc module leaves out, because glibc declares them only under
// _GNU_SOURCE. They let descriptors be close-on-exec from birth: with separate fcntl calls, a
// process spawned by another thread in between could inherit a client socket or a pipe.
#include <pthread.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>

int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
int pipe2(int pipefd[2], int flags);
int eventfd(unsigned int initval, int flags);
// glibc 2.34+: closes every descriptor from `from` up in the child, a second guard against leaks.
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
// Names a thread for ps, top and debuggers (at most 15 bytes).
int pthread_setname_np(pthread_t thread, const char *name);

// The kernel's random bytes (RandomPool); Swift's Glibc module does not include this header.
#include <sys/random.h>

// Moves bytes between a socket and a pipe inside the kernel: the port forwarder's bulk path.
ssize_t splice(int fd_in, __off64_t *off_in, int fd_out, __off64_t *off_out, size_t len, unsigned int flags);
#define SLIPWAY_SPLICE_F_MOVE 1
#define SLIPWAY_SPLICE_F_NONBLOCK 2
#define SLIPWAY_F_SETPIPE_SZ 1031

#define SLIPWAY_EFD_CLOEXEC 02000000
#define SLIPWAY_EFD_NONBLOCK 04000

// epoll, through an unpacked event: glibc packs struct epoll_event on x86_64, which Swift
// should not have to lay out. The wrappers copy between the two.
#include <stdint.h>
#include <sys/epoll.h>
struct slipway_epoll_event { uint64_t token; uint32_t events; };
static inline int slipway_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &event);
}
static inline int slipway_epoll_wait(int epfd, struct slipway_epoll_event *out, int max, int timeout) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, events, max, timeout);
    for (int i = 0; i < n; i++) {
        out[i].token = events[i].data.u64;
        out[i].events = events[i].events;
    }
    return n;
}
#define SLIPWAY_EPOLLIN 0x001u
#define SLIPWAY_EPOLLOUT 0x004u
#define SLIPWAY_EPOLLERR 0x008u
#define SLIPWAY_EPOLLHUP 0x010u
#define SLIPWAY_EPOLLRDHUP 0x2000u
#define SLIPWAY_EPOLLONESHOT (1u << 30)
#define SLIPWAY_EPOLLET (1u << 31)
#define SLIPWAY_EPOLLEXCLUSIVE (1u << 28)
#define SLIPWAY_EPOLL_CLOEXEC 02000000
// Passing listening sockets to the process that takes over (SCM_RIGHTS over a Unix socket): the
// CMSG_* macros are not visible to Swift, so the two calls are written here.
#include <errno.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
static inline ssize_t slipway_send_fds(int sock, const void *data, size_t length, const int *fds, int count) {
    struct iovec iov = { (void *)data, length };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 253)];
    if (count > 253) return -1;
    if (count > 0) {
        memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&msg);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * count);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * count);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}
// Receives one message and up to `max` descriptors (close-on-exec); `*count` says how many came.
static inline ssize_t slipway_recv_fds(int sock, void *data, size_t capacity, int *fds, int max, int *count) {
    struct iovec iov = { data, capacity };
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 253)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    *count = 0;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&msg); header; header = CMSG_NXTHDR(&msg, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        int carried = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < carried; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
            if (*count < max) fds[(*count)++] = fd; else close(fd);
        }
    }
    if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
        for (int i = 0; i < *count; i++) close(fds[i]);
        *count = 0;
        errno = EMSGSIZE;
        return -1;
    }
    return n;
}
// The user id of the process at the other end of a Unix socket (SO_PEERCRED), or -1.
struct slipway_peer_credentials { int pid; unsigned int uid; unsigned int gid; };
static inline long slipway_peer_uid(int sock) {
    struct slipway_peer_credentials credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    return (long)credentials.uid;
}
#endif
