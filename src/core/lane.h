/*
 * lane.h - a few low-priority threads for CPU-heavy work (bcrypt).
 *
 * A request that must hash a password hands the job to a lane and waits.
 * The lane runs at most `threads` jobs at once, in the order they came, on
 * threads with a lower scheduling priority (nice 10) than the ones serving
 * other requests: a burst of logins takes at most those threads' share of
 * the cores, and a GET of a note does not queue behind it. At most
 * `queue_max` jobs wait; past that lane_run() refuses at once.
 */
#ifndef VAULT_CORE_LANE_H
#define VAULT_CORE_LANE_H

#include <stddef.h>

#include "core/err.h"

struct lane;

struct lane *lane_new(int threads, size_t queue_max);

/* Stops the threads after the jobs already queued; accepts NULL. */
void lane_free(struct lane *l);

/*
 * Runs fn(arg) on the lane and returns once it has run. VERR_UNAVAILABLE,
 * without running it, when queue_max jobs are already waiting.
 */
enum verr lane_run(struct lane *l, void (*fn)(void *arg), void *arg);

#endif
