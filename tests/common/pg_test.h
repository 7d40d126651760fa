/*
 * pg_test.h - the PostgreSQL that tests run against (VAULT_TEST_PG_URL),
 * with one schema per test so that tests running at once never meet.
 */
#ifndef VAULT_TESTS_PG_TEST_H
#define VAULT_TESTS_PG_TEST_H

/* The test server's URL, or NULL when PostgreSQL tests are off. */
const char *pg_test_url(void);

/*
 * Runs sql on the test server's database (outside any test's schema),
 * pgvector made in public first if missing. NULL on success, else the
 * server's message (caller frees).
 */
char *pg_test_exec(const char *sql);

/*
 * The URL of connections whose tables go into schema (search_path
 * schema, public), with more URL parameters if extra is not NULL
 * ("a=b&c=d"). Caller frees.
 */
char *pg_test_schema_url(const char *schema, const char *extra);

#endif
