/*
 * pg_test.c - the tests' PostgreSQL: see pg_test.h.
 */
#include "common/pg_test.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pg_test_url(void)
{
	const char *url = getenv("VAULT_TEST_PG_URL");
	return url && *url ? url : NULL;
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* "already exists, skipping", "drop cascades to": expected */
}

static char *dup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

char *pg_test_exec(const char *sql)
{
	PGconn *c = PQconnectdb(pg_test_url());
	PQsetNoticeProcessor(c, quiet, NULL);
	/* Tests starting at once on a fresh server race to make it: a loser's error is harmless. */
	PQclear(PQexec(c, "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public"));
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	char *msg = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? NULL : dup(PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return msg;
}

char *pg_test_schema_url(const char *schema, const char *extra)
{
	const char *base = pg_test_url();
	size_t size = strlen(base) + 2 * strlen(schema) + (extra ? strlen(extra) : 0) + 64;
	char *url = malloc(size);
	if (!url)
		abort();
	snprintf(url, size, "%s%coptions=-csearch_path%%3D%s%%2Cpublic%s%s", base,
	         strchr(base, '?') ? '&' : '?', schema, extra ? "&" : "", extra ? extra : "");
	return url;
}
