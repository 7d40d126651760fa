/*
 * test_settings.c - the table of settings (core/config.c) against what
 * people read: .env.example shows every setting with its default and no
 * other, its defaults load, and `--help` (config_help) lists them all.
 *
 * The unit tests run from the repository's root, where .env.example is.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

#define EXAMPLE "./.env.example"

/* The commented-out defaults of .env.example: "# NAME=value" lines. */
struct example {
	char names[128][64];
	char values[128][256];
	size_t n;
};

static void read_example(struct example *ex)
{
	FILE *f = fopen(EXAMPLE, "r");
	cr_assert_not_null(f, "cannot open %s", EXAMPLE);
	char line[512];
	ex->n = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "# ", 2) != 0)
			continue;
		const char *p = line + 2;
		size_t nlen = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		if (nlen == 0 || p[nlen] != '=' || p[0] < 'A' || p[0] > 'Z')
			continue;
		cr_assert_lt(ex->n, 128);
		cr_assert_lt(nlen, sizeof(ex->names[0]));
		memcpy(ex->names[ex->n], p, nlen);
		ex->names[ex->n][nlen] = '\0';
		snprintf(ex->values[ex->n], sizeof(ex->values[0]), "%s", p + nlen + 1);
		ex->n++;
	}
	fclose(f);
}

Test(settings, env_example_shows_every_setting_with_its_default)
{
	struct example ex;
	read_example(&ex);
	size_t n = 0;
	const char *def, *name;
	for (; (name = config_setting(n, &def)); n++) {
		size_t found = 0;
		for (size_t i = 0; i < ex.n; i++)
			if (strcmp(ex.names[i], name) == 0) {
				found++;
				cr_expect_str_eq(ex.values[i], def,
				                 ".env.example shows %s=%s, the default is \"%s\"",
				                 name, ex.values[i], def);
			}
		cr_expect_eq(found, 1, ".env.example shows %s %zu times, expected once", name,
		             found);
	}
	cr_assert_gt(n, 40, "only %zu settings", n);
	for (size_t i = 0; i < ex.n; i++) {
		bool known = false;
		for (size_t k = 0; (name = config_setting(k, &def)) && !known; k++)
			known = strcmp(name, ex.names[i]) == 0;
		cr_expect(known, ".env.example shows %s, which vault does not read", ex.names[i]);
	}
}

/* Uncommenting every default of .env.example loads: the defaults it shows are valid. */
Test(settings, env_example_defaults_load)
{
	struct example ex;
	read_example(&ex);
	char path[] = "/tmp/vault-test-settings-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	for (size_t i = 0; i < ex.n; i++)
		if (ex.values[i][0]) /* an empty one means: none, or computed */
			fprintf(f, "%s=%s\n", ex.names[i], ex.values[i]);
	fclose(f);
	struct config c, d;
	struct verror err = {0};
	enum verr rc = config_load(&c, NULL, path, &err);
	unlink(path);
	cr_assert_eq(rc, VERR_OK, "the defaults of .env.example do not load: %s", err.detail);
	cr_assert_eq(config_load(&d, NULL, NULL, &err), VERR_OK);
	/* The same as no setting at all, for a sample of each type. */
	cr_expect_eq(c.port, d.port);
	cr_expect_eq(c.debug, d.debug);
	cr_expect_eq(c.environment, d.environment);
	cr_expect_str_eq(c.database_url, d.database_url);
	cr_expect_eq(c.max_body_bytes, d.max_body_bytes);
	cr_expect_eq(c.user_max_bytes, d.user_max_bytes);
	cr_expect_eq(c.embedding_dim, d.embedding_dim);
	cr_expect_str_eq(c.embedding_model, d.embedding_model);
	cr_expect_float_eq(c.search_min_similarity, d.search_min_similarity, 1e-12);
	config_free(&c);
	config_free(&d);
}

Test(settings, help_lists_every_setting_with_its_default)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_help(f);
	fclose(f);
	const char *def, *name;
	for (size_t i = 0; (name = config_setting(i, &def)); i++) {
		char want[128];
		snprintf(want, sizeof(want), "\n  %s=%s", name, def);
		cr_expect(strstr(text, want), "--help lacks \"%s\"", want + 1);
	}
	cr_expect(strstr(text, "  PORT=8000  (0-65535)\n"), "%s", text);
	cr_expect(strstr(text, "  LOG_FORMAT=json  (json or console)\n"), "%s", text);
	free(text);
}
