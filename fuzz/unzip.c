/*
 * unzip.c - fuzz target: an uploaded .zip walked for its files
 * (services/unzip.c, on libarchive).
 *
 * Properties: the walk ends with VERR_OK, VERR_INVALID or VERR_TOO_LARGE
 * and a detail; every path handed on is non-empty valid UTF-8, relative,
 * '/'-separated, without empty, "." or ".." parts or control bytes; no
 * file is over the file cap, the files together within the byte cap and
 * their number within the file cap. The time bound is libFuzzer's -timeout.
 */
#include <string.h>

#include "core/text.h"
#include "fuzz.h"
#include "services/unzip.h"

static const struct unzip_limits lim = {.files = 64, .bytes = 1 << 20, .file_size = 256 << 10};

struct tally {
	size_t files, bytes;
};

static enum verr check_file(void *ctx, const char *path, const char *data, size_t n,
                            struct verror *err)
{
	(void)data, (void)err;
	struct tally *t = ctx;
	size_t len = strlen(path);
	CHECK(len && text_utf8_valid(path, len), "path \"%s\"", path);
	CHECK(path[0] != '/' && path[len - 1] != '/' && !strstr(path, "//") && !strchr(path, '\\'),
	      "path \"%s\"", path);
	for (const char *p = path; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte in \"%s\"", path);
	for (const char *seg = path; seg;) {
		const char *end = strchr(seg, '/');
		size_t k = end ? (size_t)(end - seg) : strlen(seg);
		CHECK(!(k == 1 && seg[0] == '.') && !(k == 2 && seg[0] == '.' && seg[1] == '.'),
		      "dot part in \"%s\"", path);
		seg = end ? end + 1 : NULL;
	}
	CHECK(n <= lim.file_size, "%zu bytes", n);
	t->files++;
	t->bytes += n;
	CHECK(t->files <= lim.files && t->bytes <= lim.bytes, "%zu files, %zu bytes", t->files,
	      t->bytes);
	return VERR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally t = {0};
	struct verror err = {0};
	enum verr rc = unzip_each(data, size, &lim, check_file, &t, &err);
	CHECK(rc == VERR_OK || rc == VERR_INVALID || rc == VERR_TOO_LARGE, "code %d", rc);
	CHECK(rc == VERR_OK || err.detail[0], "no detail");
	return 0;
}
