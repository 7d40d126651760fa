/*
 * sqlite_check.c - build/sqlite_check DB: SQLite's own consistency checks of
 * a vault database, for test_durability.c after a crash. PRAGMA
 * integrity_check covers every b-tree and index; FTS5's integrity-check
 * compares each full-text index with its rows, which needs vault's
 * tokenizer (sqlite_fts.c), hence a program linked with the store rather
 * than the sqlite3 shell. Prints "ok" and exits 0, or prints each problem
 * and exits 1.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/sqlite_fts.h"

int main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int bad = 0, nfts = 0;

	if (argc != 2) {
		fputs("usage: sqlite_check DB\n", stderr);
		return 2;
	}
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite_fts_register(db) != SQLITE_OK) {
		printf("cannot open %s: %s\n", argv[1], sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
		printf("integrity_check: %s\n", sqlite3_errmsg(db));
		bad++;
	}
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		const char *row = (const char *)sqlite3_column_text(st, 0);
		if (strcmp(row, "ok") != 0) {
			printf("integrity_check: %s\n", row);
			bad++;
		}
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db,
	                       "SELECT name FROM sqlite_master WHERE type = 'table' "
	                       "AND sql LIKE 'CREATE VIRTUAL TABLE % USING fts5%'",
	                       -1, &st, NULL) != SQLITE_OK) {
		printf("sqlite_master: %s\n", sqlite3_errmsg(db));
		bad++;
	}
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		char *sql =
		    sqlite3_mprintf("INSERT INTO \"%w\"(\"%w\") VALUES('integrity-check')", t, t);
		char *msg = NULL;
		if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
			printf("FTS5 integrity-check of %s: %s\n", t, msg ? msg : "");
			bad++;
		}
		sqlite3_free(msg);
		sqlite3_free(sql);
		nfts++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (nfts == 0) {
		puts("no FTS5 table to check");
		bad++;
	}
	if (!bad)
		puts("ok");
	return bad ? 1 : 0;
}
