/*
 * test_timeutil.c - ISO 8601 formatting (core/timeutil.c) against strftime.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/timeutil.h"

/* What strftime and snprintf make of ms: the reference. */
static void reference(int64_t ms, char out[64])
{
	time_t secs = (time_t)(ms / 1000);
	int millis = (int)(ms % 1000);
	if (millis < 0) {
		millis += 1000;
		secs -= 1;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 64 - n, ".%03dZ", millis);
}

Test(timeutil, iso_matches_strftime)
{
	static const int64_t fixed[] = {0,
	                                1,
	                                999,
	                                -1,
	                                -1000,
	                                -1001,
	                                951782400000LL,    /* 2000-02-29 */
	                                1795558144123LL,   /* 2026-11-24T22:09:04.123Z */
	                                253402300799999LL, /* 9999-12-31T23:59:59.999Z */
	                                253402300800000LL, /* 10000-01-01: the slow path */
	                                -62167219200000LL, /* 0000-01-01 */
	                                -62167219200001LL};
	char got[TIME_ISO_LEN], want[64];
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		time_format_iso(fixed[i], got);
		reference(fixed[i], want);
		cr_assert_str_eq(got, want, "ms %lld", (long long)fixed[i]);
	}
	time_format_iso(1795558144123LL, got);
	cr_assert_str_eq(got, "2026-11-24T22:09:04.123Z");
	uint64_t x = 88172645463325252ULL; /* xorshift: a fixed spread of instants, 1970-2100 */
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t ms = (int64_t)(x % 4102444800000ULL);
		time_format_iso(ms, got);
		reference(ms, want);
		cr_assert_str_eq(got, want, "ms %lld", (long long)ms);
	}
}
