/*
 * test_vaultdir.c - import decisions: links resolve as Obsidian resolves
 * them (from the root, else by name: same folder, shortest path, byte
 * order; case ignored), and an import plan names every file's fate, moved
 * files included, and pairs moved files in path order when thousands share
 * one hash (empty files).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "services/vaultdir.h"

static const char *const paths[] = {
    "Note.md",
    "Projects/Note.md",
    "Projects/Deep/Plan.md",
    "Archive/Plan.md",
    "Daily/2024-03-05.md",
    "photo.png",
    "v1.2 notes.md",
    "a/x/Same.md",
    "b/Same.md",
    "a/Note.md",
    "Café.md",
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

static const char *resolve(const char *target, const char *from)
{
	struct vaultdir_index *ix = vaultdir_index_new(paths, NPATHS);
	long i = vaultdir_resolve(ix, target, from);
	vaultdir_index_free(ix);
	return i < 0 ? "(none)" : paths[i];
}

Test(vaultdir, links_resolve_like_obsidian)
{
	cr_expect_str_eq(resolve("Note", "Daily/2024-03-05.md"), "Note.md"); /* from the root */
	cr_expect_str_eq(resolve("note", NULL), "Note.md");                  /* case ignored */
	cr_expect_str_eq(resolve("Projects/Note", "Note.md"), "Projects/Note.md");
	cr_expect_str_eq(resolve("Plan", "Projects/Deep/Today.md"), "Projects/Deep/Plan.md");
	cr_expect_str_eq(resolve("Plan", "Archive/Other.md"), "Archive/Plan.md"); /* same folder */
	cr_expect_str_eq(resolve("Plan", "Note.md"), "Archive/Plan.md");          /* shortest */
	cr_expect_str_eq(resolve("Deep/Plan", "Note.md"), "Projects/Deep/Plan.md"); /* suffix */
	cr_expect_str_eq(resolve("Same", NULL), "b/Same.md");
	cr_expect_str_eq(resolve("photo.png", "Note.md"), "photo.png");
	cr_expect_str_eq(resolve("v1.2 notes", NULL), "v1.2 notes.md");
	cr_expect_str_eq(resolve("Missing", NULL), "(none)");
	cr_expect_str_eq(resolve("", NULL), "(none)");
	cr_expect_str_eq(resolve("ote", NULL), "(none)"); /* a suffix of a name is not the name */
	cr_expect_str_eq(resolve("/Projects/Note", NULL), "Projects/Note.md");
	/* Relative to the linking note's folder. */
	cr_expect_str_eq(resolve("./Note", "a/x.md"), "a/Note.md");
	cr_expect_str_eq(resolve("../Note", "a/x/y.md"), "a/Note.md");
	cr_expect_str_eq(resolve("../../Note", "a/x/y.md"), "Note.md");
	cr_expect_str_eq(resolve("../Note", "Note.md"), "(none)"); /* above the root */
	/* Unicode: case and composed or decomposed forms meet. */
	cr_expect_str_eq(resolve("CAFÉ", NULL), "Café.md");
	cr_expect_str_eq(resolve("Cafe\u0301", NULL), "Café.md");
}

static const char *action_name(enum vaultdir_action a)
{
	static const char *const n[] = {"add", "update", "unchanged", "rename", "delete"};
	return n[a];
}

Test(vaultdir, plan_names_every_fate)
{
	const struct vaultdir_file before[] = {
	    {"a.md", "h1", 1}, {"b.md", "h2", 2}, {"c.md", "h3", 3},
	    {"d.md", "h4", 4}, {"e.md", "h4", 5}, {"gone.md", "h9", 6},
	};
	const struct vaultdir_file now[] = {
	    {"a.md", "h1", 0},       /* unchanged */
	    {"b.md", "h2x", 0},      /* updated */
	    {"moved/c.md", "h3", 0}, /* c.md renamed */
	    {"x.md", "h4", 0},       /* one of d/e renamed (d, first by path) */
	    {"new.md", "h5", 0},     /* added */
	};
	struct vaultdir_change *c;
	size_t n;
	vaultdir_plan(now, 5, before, 6, &c, &n);
	const char *want[] = {"a.md unchanged 1", "b.md update 2",       "e.md delete 5",
	                      "gone.md delete 6", "moved/c.md rename 3", "new.md add 0",
	                      "x.md rename 4"};
	cr_assert_eq(n, 7, "%zu changes", n);
	for (size_t i = 0; i < n; i++) {
		char got[64];
		snprintf(got, sizeof(got), "%s %s %lld",
		         c[i].now ? c[i].now->path : c[i].before->path, action_name(c[i].action),
		         c[i].before ? (long long)c[i].before->note_id : 0LL);
		cr_expect_str_eq(got, want[i], "change %zu", i);
	}
	free(c);
}

Test(vaultdir, plan_pairs_many_equal_hashes_in_order)
{
	/* 20,000 empty files, all moved: one hash for all. */
	enum { N = 20000 };
	struct vaultdir_file *before = xcalloc(N, sizeof(*before)), *now = xcalloc(N, sizeof(*now));
	char **names = xcalloc(2 * N, sizeof(char *));
	for (int i = 0; i < N; i++) {
		names[i] = xasprintf("old/%05d.md", i);
		names[N + i] = xasprintf("new/%05d.md", i);
		before[i] = (struct vaultdir_file){names[i], "e3b0c442", i + 1};
		now[i] = (struct vaultdir_file){names[N + i], "e3b0c442", 0};
	}
	struct vaultdir_change *c;
	size_t n;
	vaultdir_plan(now, N, before, N, &c, &n);
	cr_assert_eq(n, N);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(c[i].action, VAULTDIR_RENAME);
		/* In path order each new file takes the old file of the same rank. */
		cr_assert_eq(c[i].before->note_id, (int64_t)i + 1);
	}
	free(c);
	for (int i = 0; i < 2 * N; i++)
		free(names[i]);
	free(names);
	free(before);
	free(now);
}
