/*
 * test_buf.c - the capped growable buffer (core/buf.c).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

Test(buf, appends_and_stays_nul_terminated)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	cr_assert_eq(buf_adds(&b, "hello"), VERR_OK);
	cr_assert_eq(buf_add(&b, ", world!", 7), VERR_OK);
	cr_assert_eq(buf_printf(&b, " %d", 42), VERR_OK);
	cr_assert_str_eq(b.p, "hello, world 42");
	cr_assert_eq(b.len, strlen("hello, world 42"));
	buf_free(&b);
	cr_assert_null(b.p);
}

Test(buf, passing_the_cap_fails_and_keeps_the_text)
{
	struct buf b;
	buf_init(&b, 8);
	cr_assert_eq(buf_adds(&b, "12345"), VERR_OK);
	cr_assert_eq(buf_adds(&b, "6789"), VERR_TOO_LARGE);
	cr_assert_str_eq(b.p, "12345");
	cr_assert_eq(buf_printf(&b, "%s", "abcd"), VERR_TOO_LARGE);
	cr_assert_eq(buf_adds(&b, "678"), VERR_OK); /* exactly the cap */
	cr_assert_str_eq(b.p, "12345678");
	cr_assert_eq(buf_add(&b, "", 0), VERR_OK);
	cr_assert_eq(buf_add(&b, "9", 1), VERR_TOO_LARGE);
	buf_free(&b);
}

Test(buf, never_allocates_past_the_cap)
{
	struct buf b;
	buf_init(&b, 1000);
	char chunk[300];
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 3; i++)
		cr_assert_eq(buf_add(&b, chunk, sizeof(chunk)), VERR_OK);
	cr_assert_eq(buf_add(&b, chunk, 100), VERR_OK);
	cr_assert_eq(b.len, 1000);
	cr_assert_leq(b.alloc, 1001, "allocated %zu bytes for a cap of 1000", b.alloc);
	buf_free(&b);
}

Test(buf, printf_longer_than_its_scratch)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	char big[1000];
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(buf_printf(&b, "<%s>", big), VERR_OK);
	cr_assert_eq(b.len, sizeof(big) + 1);
	cr_assert_eq(b.p[0], '<');
	cr_assert_eq(b.p[b.len - 1], '>');
	buf_free(&b);
}

Test(buf, reset_and_steal)
{
	struct buf b;
	buf_init(&b, 16);
	char *empty = buf_steal(&b);
	cr_assert_str_eq(empty, "");
	free(empty);
	cr_assert_eq(buf_adds(&b, "abc"), VERR_OK);
	buf_reset(&b);
	cr_assert_str_eq(b.p, "");
	cr_assert_eq(buf_adds(&b, "0123456789abcdef"), VERR_OK); /* the cap holds after a reset */
	char *s = buf_steal(&b);
	cr_assert_str_eq(s, "0123456789abcdef");
	free(s);
	cr_assert_null(b.p);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(buf_adds(&b, "again"), VERR_OK);
	cr_assert_str_eq(b.p, "again");
	buf_free(&b);
}

Test(buf, consume_drops_the_front)
{
	struct buf b;
	buf_init(&b, 10);
	cr_assert_eq(buf_adds(&b, "0123456789"), VERR_OK);
	buf_consume(&b, 0);
	cr_assert_str_eq(b.p, "0123456789");
	buf_consume(&b, 4);
	cr_assert_str_eq(b.p, "456789");
	cr_assert_eq(b.len, 6);
	cr_assert_eq(buf_adds(&b, "abcd"), VERR_OK); /* the room is back */
	cr_assert_str_eq(b.p, "456789abcd");
	buf_consume(&b, b.len);
	cr_assert_str_eq(b.p, "");
	cr_assert_eq(b.len, 0);
	buf_free(&b);
}
