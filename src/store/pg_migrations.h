/*
 * pg_migrations.h - the PostgreSQL schema history, private to store_pg.c.
 *
 * Each migration is a version, a name and the SQL that applies and reverts
 * it, compiled into the binary (struct migration, driver.h).
 */
#ifndef VAULT_STORE_PG_MIGRATIONS_H
#define VAULT_STORE_PG_MIGRATIONS_H

#include "store/driver.h"

/*
 * Stands in the SQL for the dimension of the chunks' vector column:
 * store_pg.c replaces it with opts->embedding_dim, an integer it
 * formats itself, the one value ever written into SQL text.
 */
#define PG_MIGRATION_DIM "@EMBEDDING_DIM@"

/* Oldest first, ended by a zero version. */
extern const struct migration pg_migrations[];

/* Changes the vector column to PG_MIGRATION_DIM, dropping every vector (a reindex of all). */
extern const char pg_redim_sql[];

#endif
