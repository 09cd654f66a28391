/* signals.h — SIGTERM / SIGUSR1 / SIGUSR2 / SIGINT handling for pre-emptible jobs. The handlers
 * only record the signal; the search loop polls sp_signal_pending() at safe points, writes a
 * checkpoint and exits with SP_EXIT_RESUMABLE. Install early on every rank (SIGUSR1's default
 * action is to terminate, and mpirun / srun forward signals to every rank). */
#ifndef SP_SIGNALS_H
#define SP_SIGNALS_H

void sp_signals_install(void);
/* The signal number received (0 when none). */
int sp_signal_pending(void);
/* Records a stop request as if a signal had arrived (used when a worker reports one). */
void sp_signal_raise_flag(int signo);

#endif
