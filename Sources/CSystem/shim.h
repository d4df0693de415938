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
#endif
