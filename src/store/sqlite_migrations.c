/*
 * sqlite_migrations.c - the SQLite schema, one versioned step at a time.
 *
 * store_sqlite.c runs each step with its schema_migrations row in one
 * transaction. The SQL here holds no values, only schema, so nothing in it
 * is ever interpolated.
 */
#include "store/sqlite_migrations.h"

/*
 * 1 init: users, their notes and tags, and refresh tokens.
 *
 * Indexes follow the queries in store_sqlite.c:
 *   - notes_user_created serves a user's page, newest first, and COUNT(*)
 *     of a user's notes as a covering index; it also finds a user's notes
 *     for the ON DELETE CASCADE from users.
 *   - note_tags is clustered on (note_id, tag) (WITHOUT ROWID), which loads
 *     the tags of a note or a page and serves the cascade from notes;
 *     note_tags_user_tag answers "which of this user's notes carry tag t"
 *     from the index alone.
 *   - refresh_tokens: token_hash is UNIQUE (rotation looks it up), family
 *     serves reuse revocation, user_id revoke-all and the cascade.
 * AUTOINCREMENT on users and notes keeps ids from ever being reused.
 */
static const char init_up[] =
    "CREATE TABLE users (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  email TEXT NOT NULL UNIQUE,\n"
    "  password_hash TEXT NOT NULL,\n"
    "  created_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE notes (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  title TEXT NOT NULL,\n"
    "  content TEXT NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  updated_at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX notes_user_created ON notes(user_id, created_at DESC, id DESC);\n"
    "CREATE TABLE note_tags (\n"
    "  note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,\n"
    "  user_id INTEGER NOT NULL,\n"
    "  tag TEXT NOT NULL,\n"
    "  position INTEGER NOT NULL,\n"
    "  PRIMARY KEY (note_id, tag)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX note_tags_user_tag ON note_tags(user_id, tag, note_id);\n"
    "CREATE TABLE refresh_tokens (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "  family TEXT NOT NULL,\n"
    "  token_hash TEXT NOT NULL UNIQUE,\n"
    "  expires_at INTEGER NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  used_at INTEGER,\n"
    "  revoked_at INTEGER\n"
    ");\n"
    "CREATE INDEX refresh_tokens_family ON refresh_tokens(family);\n"
    "CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);\n";

/* Children first, so no drop leaves a dangling foreign key behind. */
static const char init_down[] = "DROP TABLE refresh_tokens;\n"
                                "DROP TABLE note_tags;\n"
                                "DROP TABLE notes;\n"
                                "DROP TABLE users;\n";

const struct sqlite_migration sqlite_migrations[] = {
    {1, "init", init_up, init_down},
};

const size_t sqlite_nmigrations = sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]);
