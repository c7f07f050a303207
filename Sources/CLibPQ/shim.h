#ifndef DROVER_CLIBPQ_SHIM_H
#define DROVER_CLIBPQ_SHIM_H
// Debian installs libpq-fe.h under /usr/include/postgresql; pkg-config adds that path.
#include <libpq-fe.h>
#endif
