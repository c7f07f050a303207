#ifndef DROVER_CSYSTEMD_SHIM_H
#define DROVER_CSYSTEMD_SHIM_H
// Only the few declarations drover uses. Variadic functions (sd_notifyf,
// sd_journal_send) cannot be called from Swift: use sd_notify and sd_journal_sendv.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif
