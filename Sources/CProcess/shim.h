#ifndef DROVER_CPROCESS_SHIM_H
#define DROVER_CPROCESS_SHIM_H
#include <malloc.h>
#include <spawn.h>

// glibc declares these only under _GNU_SOURCE, which Swift's Glibc module is not
// built with; both are in glibc 2.29 and later (Debian 12 has 2.36).
extern int pipe2(int pipefd[2], int flags);
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
#endif
