/*
 * pg_migrations.h - the PostgreSQL schema history, private to store_pg.c.
 *
 * Each migration is a version, a name and the SQL that applies and reverts
 * it, compiled into the binary; the versions and names are SQLite's
 * (sqlite_migrations.h), so `vault migrate status` reads the same on both.
 * Versions rise strictly through the array; append new ones at the end and
 * never edit one that has shipped.
 */
#ifndef VAULT_STORE_PG_MIGRATIONS_H
#define VAULT_STORE_PG_MIGRATIONS_H

#include <stddef.h>

/*
 * Stands in the SQL for the dimension of the chunks' vector column:
 * store_pg.c replaces it with opts->embedding_dim, an integer it
 * formats itself, the one value ever written into SQL text.
 */
#define PG_MIGRATION_DIM "@EMBEDDING_DIM@"

struct pg_migration {
	int version;
	const char *name;
	const char *up;   /* one or more statements, run in one transaction */
	const char *down; /* undoes up exactly */
};

extern const struct pg_migration pg_migrations[];
extern const size_t pg_nmigrations;

/* Changes the vector column to PG_MIGRATION_DIM, dropping every vector (a reindex of all). */
extern const char pg_redim_sql[];

#endif
