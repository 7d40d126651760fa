/*
 * test_lru.c - the small cache: values kept per number and text, the least
 * recently used dropped first.
 */
#include <criterion/criterion.h>

#include "core/lru.h"

#define DIM 3

Test(lru, keeps_each_key_apart_and_drops_the_oldest)
{
	struct lru *c = lru_new(2, sizeof(float[DIM]));
	float v[DIM], one[DIM] = {1, 0, 0}, two[DIM] = {0, 1, 0}, three[DIM] = {0, 0, 1};

	cr_assert_not(lru_get(c, 1, "tides", v));
	lru_put(c, 1, "tides", one);
	cr_assert(lru_get(c, 1, "tides", v));
	cr_assert_arr_eq(v, one, sizeof(v));
	/* The same text under another number, or another text, is not there. */
	cr_assert_not(lru_get(c, 2, "tides", v));
	cr_assert_not(lru_get(c, 1, "tide", v));

	lru_put(c, 2, "tides", two);
	cr_assert(lru_get(c, 2, "tides", v));
	cr_assert_arr_eq(v, two, sizeof(v));
	cr_assert(lru_get(c, 1, "tides", v)); /* now (2, tides) is the older */
	lru_put(c, 1, "moons", three);
	cr_assert_not(lru_get(c, 2, "tides", v));
	cr_assert(lru_get(c, 1, "tides", v));
	cr_assert_arr_eq(v, one, sizeof(v));
	cr_assert(lru_get(c, 1, "moons", v));
	cr_assert_arr_eq(v, three, sizeof(v));

	/* Putting a kept query again replaces its vector in place. */
	lru_put(c, 1, "moons", two);
	cr_assert(lru_get(c, 1, "moons", v));
	cr_assert_arr_eq(v, two, sizeof(v));
	cr_assert(lru_get(c, 1, "tides", v));
	lru_free(c);
}
