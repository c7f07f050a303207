#ifndef DROVER_CSOCKET_SHIM_H
#define DROVER_CSOCKET_SHIM_H
#include <sys/types.h>

// Linux's struct ucred, the value of SO_PEERCRED. glibc declares it only under
// _GNU_SOURCE, which Swift's Glibc module is not built with.
struct drover_ucred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};
#endif
