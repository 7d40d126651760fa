/*
 * test_unzip.c - a zipped vault's files come out with clean relative paths
 * (directories and links skipped); a zip bomb stops at the byte cap while
 * inflating (not after), too many files and over-large files are refused
 * naming the limit, paths leaving the archive and bytes that are not a
 * zip are refused. The zips are written with libarchive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "services/unzip.h"

struct zip {
	struct archive *a;
	struct buf out;
};

static la_ssize_t zwrite(struct archive *a, void *ctx, const void *p, size_t n)
{
	(void)a;
	buf_add(ctx, p, n);
	return (la_ssize_t)n;
}

static void zip_add(struct zip *z, const char *path, unsigned type, const char *data, size_t n,
                    size_t repeat)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname_utf8(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, 0644);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, "target.md");
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)(n * repeat) : 0);
	cr_assert_eq(archive_write_header(z->a, e), ARCHIVE_OK, "%s", archive_error_string(z->a));
	for (size_t i = 0; type == AE_IFREG && i < repeat; i++)
		archive_write_data(z->a, data, n);
	archive_entry_free(e);
}

static void zip_close(struct zip *z)
{
	archive_write_close(z->a);
	archive_write_free(z->a);
}

/* In place: the writer keeps a pointer to z->out. */
static void zip_new(struct zip *z)
{
	buf_init(&z->out, BUF_NOCAP);
	z->a = archive_write_new();
	archive_write_set_format_zip(z->a);
	archive_write_set_options(z->a, "zip:hdrcharset=UTF-8"); /* flagged, as other tools write */
	archive_write_set_bytes_in_last_block(z->a, 1);
	cr_assert_eq(archive_write_open(z->a, &z->out, NULL, zwrite, NULL), ARCHIVE_OK);
}

struct seen {
	struct buf list; /* "path=size;" */
};

static enum verr collect(void *ctx, const char *path, const char *data, size_t n,
                         struct verror *err)
{
	(void)data, (void)err;
	struct seen *s = ctx;
	buf_printf(&s->list, "%s=%zu;", path, n);
	return VERR_OK;
}

static const struct unzip_limits lim = {
    .files = 100, .bytes = 8 * 1024 * 1024, .file_size = 4 * 1024 * 1024};

static enum verr walk(struct zip *z, struct seen *s, struct verror *err)
{
	buf_init(&s->list, BUF_NOCAP);
	return unzip_each(z->out.p, z->out.len, &lim, collect, s, err);
}

Test(unzip, a_vault_comes_out_with_clean_paths)
{
	struct zip z;
	zip_new(&z);
	zip_add(&z, "vault/", AE_IFDIR, NULL, 0, 0);
	zip_add(&z, "vault/Note.md", AE_IFREG, "# Note\n", 7, 1);
	zip_add(&z, "./vault/Daily/2024-03-05.md", AE_IFREG, "day", 3, 1);
	zip_add(&z, "vault\\Windows\\Style.md", AE_IFREG, "w", 1, 1);
	zip_add(&z, "vault/link.md", AE_IFLNK, NULL, 0, 0);
	zip_add(&z, "vault/Café.md", AE_IFREG, "", 0, 1);
	zip_close(&z);
	struct seen s;
	struct verror err = {0};
	cr_assert_eq(walk(&z, &s, &err), VERR_OK, "%s", err.detail);
	/* A streamed zip's local headers carry no file type: a link comes out as a
	 * file holding its target's name, harmless since nothing is written to disk. */
	cr_expect_str_eq(s.list.p, "vault/Note.md=7;vault/Daily/2024-03-05.md=3;"
	                           "vault/Windows/Style.md=1;vault/link.md=9;vault/Café.md=0;");
	buf_free(&s.list);
	buf_free(&z.out);
}

Test(unzip, a_bomb_stops_while_inflating)
{
	/* 64 MiB of zeros deflates to about 64 KiB; the cap is 8 MiB. */
	static char zeros[1 << 20];
	struct zip z;
	zip_new(&z);
	zip_add(&z, "bomb.md", AE_IFREG, zeros, sizeof(zeros), 64);
	zip_close(&z);
	cr_assert_lt(z.out.len, 1024 * 1024, "%zu bytes", z.out.len);
	struct seen s;
	struct verror err = {0};
	cr_expect_eq(walk(&z, &s, &err), VERR_TOO_LARGE);
	cr_expect(strstr(err.detail, "over 4 MiB"), "%s", err.detail);
	cr_expect_eq(s.list.len, 0, "a file of the bomb was handed on: %s", s.list.p);
	buf_free(&s.list);
	buf_free(&z.out);

	/* Many files each under the file cap, together over the byte cap. */
	zip_new(&z);
	char name[32];
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d.md", i);
		zip_add(&z, name, AE_IFREG, zeros, sizeof(zeros), 3);
	}
	zip_close(&z);
	cr_expect_eq(walk(&z, &s, &err), VERR_TOO_LARGE);
	cr_expect(strstr(err.detail, "inflates to more than 8 MiB"), "%s", err.detail);
	buf_free(&s.list);
	buf_free(&z.out);
}

Test(unzip, too_many_files)
{
	struct zip z;
	zip_new(&z);
	char name[32];
	for (int i = 0; i < 101; i++) {
		snprintf(name, sizeof(name), "n%03d.md", i);
		zip_add(&z, name, AE_IFREG, "x", 1, 1);
	}
	zip_close(&z);
	struct seen s;
	struct verror err = {0};
	cr_expect_eq(walk(&z, &s, &err), VERR_TOO_LARGE);
	cr_expect(strstr(err.detail, "more than 100 files"), "%s", err.detail);
	buf_free(&s.list);
	buf_free(&z.out);
}

Test(unzip, paths_outside_and_junk_are_refused)
{
	const char *bad[] = {"../evil.md", "vault/../../evil.md", "/etc/cron.d/x", "a/\x01.md"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct zip z;
		zip_new(&z);
		zip_add(&z, "ok.md", AE_IFREG, "fine", 4, 1);
		zip_add(&z, bad[i], AE_IFREG, "x", 1, 1);
		zip_close(&z);
		struct verror err = {0};
		cr_expect_eq(unzip_each(z.out.p, z.out.len, &lim, NULL, NULL, &err), VERR_INVALID,
		             "%s", bad[i]);
		cr_expect(strstr(err.detail, "outside"), "%s: %s", bad[i], err.detail);
		buf_free(&z.out);
	}
	struct verror err = {0};
	const char junk[] = "PK\x03\x04 this is not a zip at all";
	cr_expect_eq(unzip_each(junk, sizeof(junk) - 1, &lim, NULL, NULL, &err), VERR_INVALID);
	cr_expect_eq(unzip_each("", 0, &lim, NULL, NULL, &err), VERR_INVALID);
}

Test(unzip, names_flagged_utf8_by_another_tool)
{
	/* Written by Python's zipfile: "vault/Café.md", general-purpose flag 0x800. */
	FILE *f = fopen("tests/unit/data/python-utf8-names.zip", "rb");
	cr_assert(f);
	char data[4096];
	size_t n = fread(data, 1, sizeof(data), f);
	fclose(f);
	struct seen s;
	buf_init(&s.list, BUF_NOCAP);
	struct verror err = {0};
	cr_assert_eq(unzip_each(data, n, &lim, collect, &s, &err), VERR_OK, "%s", err.detail);
	cr_expect_str_eq(s.list.p, "vault/Café.md=1;");
	buf_free(&s.list);
}

Test(unzip, resource_forks_skipped_and_duplicates_refused)
{
	struct zip z;
	zip_new(&z);
	zip_add(&z, "__MACOSX/vault/._Note.md", AE_IFREG, "\0\5\26\7", 4, 1);
	zip_add(&z, "vault/._Note.md", AE_IFREG, "\0\5\26\7", 4, 1);
	zip_add(&z, "vault/Note.md", AE_IFREG, "real", 4, 1);
	zip_close(&z);
	struct seen s;
	struct verror err = {0};
	cr_assert_eq(walk(&z, &s, &err), VERR_OK, "%s", err.detail);
	cr_expect_str_eq(s.list.p, "vault/Note.md=4;");
	buf_free(&s.list);
	buf_free(&z.out);

	/* The same path twice ("./a.md" is "a.md"): which one is the note? Refused. */
	zip_new(&z);
	zip_add(&z, "a.md", AE_IFREG, "one", 3, 1);
	zip_add(&z, "./a.md", AE_IFREG, "two", 3, 1);
	zip_close(&z);
	cr_expect_eq(unzip_each(z.out.p, z.out.len, &lim, NULL, NULL, &err), VERR_INVALID);
	cr_expect(strstr(err.detail, "a.md twice"), "%s", err.detail);
	buf_free(&z.out);
}
