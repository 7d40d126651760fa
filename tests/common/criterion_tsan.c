/*
 * criterion_tsan.c - lets Criterion run the tests under ThreadSanitizer.
 *
 * Criterion's sandboxing (BoxFort, built into Debian's libcriterion) maps its
 * shared arenas with MAP_FIXED at 0x200000000000 + (rand_r() & 0x3fffff) * 16
 * MiB and gives up after a few tries. In a TSan process nearly all of that
 * window is TSan's shadow or reserved, and TSan refuses fixed mappings
 * outside application memory, so the runner mostly failed to start ("Could
 * not initialize inheritable arena") or crashed on a test's missing arena.
 * In TSan builds of the test binaries, this rand_r draws only offsets inside
 * TSan's application range 0x550000000000-0x568000000000 (x86-64 Linux).
 * The only other caller, a test's vector generator, needs spread, not
 * glibc's exact sequence.
 */
#if defined(__SANITIZE_THREAD__) && defined(__x86_64__)
#include <stdlib.h>

#define APP_FIRST 0x350000u /* (0x550000000000 - 0x200000000000) >> 24 */
#define APP_SPAN  0x17f00u  /* to 0x567f00000000: room for an arena to grow */

int rand_r(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u; /* an LCG, as glibc's */
	return (int)(APP_FIRST + (*seed >> 8) % APP_SPAN);
}
#endif
