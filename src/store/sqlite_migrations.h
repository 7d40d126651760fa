/*
 * sqlite_migrations.h - the SQLite schema history, private to store_sqlite.c.
 *
 * Each migration is a version, a name and the SQL that applies and reverts
 * it, compiled into the binary. Versions rise strictly through the array;
 * append new ones at the end and never edit one that has shipped.
 */
#ifndef VAULT_STORE_SQLITE_MIGRATIONS_H
#define VAULT_STORE_SQLITE_MIGRATIONS_H

#include <stddef.h>

struct sqlite_migration {
	int version;
	const char *name;
	const char *up;   /* one or more statements, run in one transaction */
	const char *down; /* undoes up exactly */
};

extern const struct sqlite_migration sqlite_migrations[];
extern const size_t sqlite_nmigrations;

#endif
