/*
 * test_query_cache.c - the vectors of users' recent search queries: kept
 * per user and text, the least recently used dropped first.
 */
#include <criterion/criterion.h>

#include "services/query_cache.h"

#define DIM 3

Test(query_cache, keeps_each_users_queries_apart_and_drops_the_oldest)
{
	struct query_cache *c = query_cache_new(2, DIM);
	float v[DIM], one[DIM] = {1, 0, 0}, two[DIM] = {0, 1, 0}, three[DIM] = {0, 0, 1};

	cr_assert_not(query_cache_get(c, 1, "tides", v));
	query_cache_put(c, 1, "tides", one);
	cr_assert(query_cache_get(c, 1, "tides", v));
	cr_assert_arr_eq(v, one, sizeof(v));
	/* Another user's same text, or another text, is not there. */
	cr_assert_not(query_cache_get(c, 2, "tides", v));
	cr_assert_not(query_cache_get(c, 1, "tide", v));

	query_cache_put(c, 2, "tides", two);
	cr_assert(query_cache_get(c, 2, "tides", v));
	cr_assert_arr_eq(v, two, sizeof(v));
	cr_assert(query_cache_get(c, 1, "tides", v)); /* now user 2's is the older */
	query_cache_put(c, 1, "moons", three);
	cr_assert_not(query_cache_get(c, 2, "tides", v));
	cr_assert(query_cache_get(c, 1, "tides", v));
	cr_assert_arr_eq(v, one, sizeof(v));
	cr_assert(query_cache_get(c, 1, "moons", v));
	cr_assert_arr_eq(v, three, sizeof(v));

	/* Putting a kept query again replaces its vector in place. */
	query_cache_put(c, 1, "moons", two);
	cr_assert(query_cache_get(c, 1, "moons", v));
	cr_assert_arr_eq(v, two, sizeof(v));
	cr_assert(query_cache_get(c, 1, "tides", v));
	query_cache_free(c);
}
