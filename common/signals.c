/* signals.c — flag-only signal handlers (see signals.h). */
#include "signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t g_signal = 0;

static void on_signal(int signo)
{
    if (!g_signal) g_signal = signo;
}

void sp_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int sp_signal_pending(void) { return (int)g_signal; }

void sp_signal_raise_flag(int signo)
{
    if (!g_signal) g_signal = signo;
}
