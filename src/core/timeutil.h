/*
 * timeutil.h - wall-clock time as milliseconds since the Unix epoch (UTC).
 */
#ifndef VAULT_CORE_TIMEUTIL_H
#define VAULT_CORE_TIMEUTIL_H

#include <stdint.h>

#define TIME_ISO_LEN 32

/* Milliseconds since the epoch, UTC. */
int64_t time_now_ms(void);

/* Monotonic milliseconds, for measuring durations. */
double time_mono_ms(void);

/* Formats ms as "2026-11-24T22:09:04.123Z" into buf (TIME_ISO_LEN bytes). */
void time_format_iso(int64_t ms, char buf[TIME_ISO_LEN]);

#endif
