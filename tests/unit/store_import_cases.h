/*
 * store_import_cases.h - the same checks of an imported folder's store
 * operations (sources, times given, aliases, links, backlinks) for both
 * backends; test_store_sqlite.c and test_store_pg.c each run them on a
 * migrated store with two users.
 */
#ifndef VAULT_TESTS_STORE_IMPORT_CASES_H
#define VAULT_TESTS_STORE_IMPORT_CASES_H

#include <criterion/criterion.h>
#include <string.h>

#include "store/store.h"

static int64_t import_note(struct store *s, int64_t user, const char *title, const char *path,
                           const char *hash)
{
	struct verror err = {0};
	struct note_input in = {
	    .title = title, .content = "text", .source_path = path, .source_hash = hash};
	struct note n;
	cr_assert_eq(store_note_create(s, user, &in, 5000, &n, &err), VERR_OK, "%s", err.detail);
	int64_t id = n.id;
	note_free(&n);
	return id;
}

static void store_import_cases(struct store *s, int64_t ann, int64_t bob)
{
	struct verror err = {0};
	struct note n, got;

	/* Times, source and aliases as the file gives them, written with the note. */
	const char *aliases[] = {"Alpha", "First one"};
	struct note_input in = {.title = "A",
	                        .content = "links to B",
	                        .created_at = 1000,
	                        .updated_at = 2000,
	                        .source_path = "a/A.md",
	                        .source_hash = "h1",
	                        .aliases = aliases,
	                        .naliases = 2};
	cr_assert_eq(store_note_create(s, ann, &in, 5000, &n, &err), VERR_OK, "%s", err.detail);
	int64_t a = n.id;
	cr_expect_eq(n.created_at, 1000);
	cr_expect_eq(n.updated_at, 2000);
	note_free(&n);
	cr_assert_eq(store_note_get(s, ann, a, &got, &err), VERR_OK, "%s", err.detail);
	cr_expect_eq(got.created_at, 1000);
	cr_expect_eq(got.updated_at, 2000);
	cr_assert_str_eq(got.source_path, "a/A.md");
	cr_assert_eq(got.naliases, 2);
	cr_expect_str_eq(got.aliases[0], "Alpha");
	cr_expect_str_eq(got.aliases[1], "First one");
	note_free(&got);

	int64_t b = import_note(s, ann, "B", "B.md", "hb");
	int64_t c = import_note(s, ann, "C", NULL, NULL);
	int64_t bobs = import_note(s, bob, "Bob's", "a/A.md", "x"); /* a path is per user */
	cr_assert_eq(store_note_get(s, ann, c, &got, &err), VERR_OK, "%s", err.detail);
	cr_expect_null(got.source_path);
	cr_expect_eq(got.naliases, 0);
	note_free(&got);
	struct note_input dup = {
	    .title = "dup", .content = "", .source_path = "a/A.md", .source_hash = "h"};
	cr_expect_eq(store_note_create(s, ann, &dup, 1, &n, &err), VERR_CONFLICT);

	/* The user's imported files, in byte order of their paths; only theirs. */
	struct note_source *src;
	size_t nsrc;
	cr_assert_eq(store_note_sources(s, ann, &src, &nsrc, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(nsrc, 2);
	cr_expect_str_eq(src[0].path, "B.md");
	cr_expect_eq(src[0].note_id, b);
	cr_expect_str_eq(src[1].path, "a/A.md");
	cr_expect_str_eq(src[1].hash, "h1");
	cr_expect_eq(src[1].note_id, a);
	note_sources_free(src, nsrc);
	cr_assert_eq(store_note_sources(s, bob, &src, &nsrc, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(nsrc, 1);
	cr_expect_eq(src[0].note_id, bobs);
	note_sources_free(src, nsrc);

	/* An import's update sets what the file says; an edit keeps the source. */
	in.source_hash = "h2";
	in.created_at = 0;
	in.updated_at = 3000;
	in.naliases = 1;
	cr_assert_eq(store_note_update(s, ann, a, &in, 6000, &n, &err), VERR_OK, "%s", err.detail);
	cr_expect_eq(n.created_at, 1000);
	cr_expect_eq(n.updated_at, 3000);
	note_free(&n);
	struct note_input edit = {.title = "A edited", .content = "links to B"};
	cr_assert_eq(store_note_update(s, ann, a, &edit, 7000, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_expect_eq(n.updated_at, 7000);
	note_free(&n);
	cr_assert_eq(store_note_get(s, ann, a, &got, &err), VERR_OK, "%s", err.detail);
	cr_expect_str_eq(got.source_path, "a/A.md");
	cr_expect_eq(got.naliases, 1);
	note_free(&got);
	cr_assert_eq(store_note_sources(s, ann, &src, &nsrc, &err), VERR_OK, "%s", err.detail);
	cr_expect_str_eq(src[1].hash, "h2");
	note_sources_free(src, nsrc);

	/* A rename moves the source; another's note or a taken path are refused. */
	cr_assert_eq(store_note_set_source(s, ann, a, "a/A2.md", "h2", &err), VERR_OK, "%s",
	             err.detail);
	cr_expect_eq(store_note_set_source(s, bob, a, "x.md", "h", &err), VERR_NOT_FOUND);
	cr_expect_eq(store_note_set_source(s, ann, a, "B.md", "h", &err), VERR_CONFLICT);
	cr_assert_eq(store_note_set_source(s, ann, c, "c.md", "hc", &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(store_note_set_source(s, ann, c, NULL, NULL, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_note_sources(s, ann, &src, &nsrc, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(nsrc, 2);
	cr_expect_str_eq(src[1].path, "a/A2.md");
	note_sources_free(src, nsrc);

	/* Links: a link to another user's note is stored unresolved. */
	struct note_link_input links[] = {
	    {"B", b, false}, {"Missing", 0, false}, {"C", c, true}, {"Bob's", bobs, false}};
	cr_assert_eq(store_note_links_put(s, ann, a, links, 4, &err), VERR_OK, "%s", err.detail);
	cr_expect_eq(store_note_links_put(s, bob, a, links, 1, &err), VERR_NOT_FOUND);
	struct note_link *out, *back;
	size_t nout, nback;
	cr_assert_eq(store_note_links(s, ann, a, &out, &nout, &back, &nback, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(nout, 4);
	cr_expect_eq(nback, 0);
	cr_expect_str_eq(out[0].target, "B");
	cr_expect_eq(out[0].to_note, b);
	cr_expect_str_eq(out[0].title, "B");
	cr_expect_not(out[0].embed);
	cr_expect_str_eq(out[1].target, "Missing");
	cr_expect_eq(out[1].to_note, 0);
	cr_expect_null(out[1].title);
	cr_expect(out[2].embed);
	cr_expect_eq(out[2].to_note, c);
	cr_expect_eq(out[3].to_note, 0, "another user's note was linked");
	cr_expect_null(out[3].title);
	note_links_free(out, nout);
	note_links_free(back, nback);

	cr_assert_eq(store_note_links(s, ann, b, &out, &nout, &back, &nback, &err), VERR_OK, "%s",
	             err.detail);
	cr_expect_eq(nout, 0);
	cr_assert_eq(nback, 1);
	cr_expect_eq(back[0].from_note, a);
	cr_expect_str_eq(back[0].title, "A edited");
	note_links_free(out, nout);
	note_links_free(back, nback);
	cr_expect_eq(store_note_links(s, bob, b, &out, &nout, &back, &nback, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_links(s, bob, bobs, &out, &nout, &back, &nback, &err), VERR_OK,
	             "%s", err.detail);
	cr_expect_eq(nback, 0, "ann's unresolved link shows as bob's backlink");
	note_links_free(out, nout);
	note_links_free(back, nback);

	struct note_link *all;
	size_t nall;
	cr_assert_eq(store_user_links(s, ann, &all, &nall, &err), VERR_OK, "%s", err.detail);
	cr_expect_eq(nall, 4);
	note_links_free(all, nall);
	cr_assert_eq(store_user_links(s, bob, &all, &nall, &err), VERR_OK, "%s", err.detail);
	cr_expect_eq(nall, 0);
	note_links_free(all, nall);

	/* A deleted target leaves the link unresolved; a put replaces; links go with the note. */
	cr_assert_eq(store_note_delete(s, ann, b, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_note_links(s, ann, a, &out, &nout, &back, &nback, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(nout, 4);
	cr_expect_eq(out[0].to_note, 0);
	cr_expect_str_eq(out[0].target, "B");
	note_links_free(out, nout);
	note_links_free(back, nback);
	cr_assert_eq(store_note_links_put(s, ann, a, links + 2, 1, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(store_user_links(s, ann, &all, &nall, &err), VERR_OK, "%s", err.detail);
	cr_expect_eq(nall, 1);
	note_links_free(all, nall);
	cr_assert_eq(store_note_delete(s, ann, a, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_user_links(s, ann, &all, &nall, &err), VERR_OK, "%s", err.detail);
	cr_expect_eq(nall, 0);
	note_links_free(all, nall);
}

#endif
