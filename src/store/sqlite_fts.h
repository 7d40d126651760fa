/*
 * sqlite_fts.h - the per-user keyword index of the SQLite backend, private
 * to store_sqlite.c (and its tests).
 *
 * Every user's notes share one FTS5 table, but not one index: the tokenizer
 * "vault" prefixes each token with its owner's id, so a user's terms have
 * posting lists of their own and a query reads only those; vault_bm25 ranks
 * with the owner's document count and average length (table keyword_stats)
 * instead of the whole table's. Each indexed value starts with
 * SQLITE_FTS_OWNER of its user; so does each phrase of a MATCH expression
 * (sqlite_fts_match). sqlite_fts.c says why this design and what it costs.
 */
#ifndef VAULT_STORE_SQLITE_FTS_H
#define VAULT_STORE_SQLITE_FTS_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * SQL for the marker that opens every indexed value: the owner's id between
 * two US (0x1F) characters, which no note text can put at its start (the
 * marker is prepended to it).
 */
#define SQLITE_FTS_OWNER(ID) "(char(31) || " ID " || char(31))"

/*
 * Registers, on db, the tokenizer "vault" (arguments: the tokenizer it
 * wraps and that one's arguments, e.g. "porter unicode61"), the ranking
 * function vault_bm25(notes_fts, docs, tokens, keep, weight...) (keep: the
 * LIMIT of the query, which then reads the length of only the rows that can
 * be among its best; 0 for all) and
 * vault_doclen(sz), the tokens of a row from notes_fts_docsize. Every connection
 * that touches notes_fts needs them. Returns a SQLite result code.
 */
int sqlite_fts_register(sqlite3 *db);

/*
 * The MATCH expression for user_id's terms: each quoted (quotes in a term
 * dropped, so a term is never FTS5 syntax) behind the owner's marker;
 * joined by OR, or with phrase set as one phrase in the title or tags
 * columns. Caller frees.
 */
char *sqlite_fts_match(int64_t user_id, const char *const *terms, size_t nterms, bool phrase);

#endif
