/*
 * fuzz.h - what the libFuzzer targets of fuzz/ share: reading the fuzzer's
 * bytes as parameters, and a check that fails the run.
 *
 * A target turns a failed property into a crash (abort), so libFuzzer
 * reports it like a sanitizer finding and saves the input as the
 * reproducer (scripts/fuzz puts it into the target's corpus).
 */
#ifndef VAULT_FUZZ_FUZZ_H
#define VAULT_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fails the run with a message when cond does not hold. */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__,        \
			        #cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The fuzzer's bytes, consumed from the front as parameters. */
struct input {
	const uint8_t *p;
	size_t n;
};

/* The next byte, 0 once the input is used up. */
static inline uint8_t take_byte(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

#endif
