/*
 * dotenv.c - fuzz target: .env files (core/config.c, config_dotenv_parse,
 * which config_load runs on its dotenv_path).
 *
 * Input: byte 0 picks the test. Even: the rest is a .env file. If it parses,
 * every key is letters, digits and _ (not starting with a digit), there are
 * no more assignments than lines, and a value is a C string of what the line
 * held; if not, the error names the file and a line. Odd: the rest, less
 * NULs and line breaks, is a value v, written as FUZZ_KEY=v in each way that
 * can spell it (double quotes with escapes; single quotes; bare; with
 * "export", blanks, a comment, CRLF) among other lines: it reads back as v,
 * in its place. A line made unterminated by a missing closing quote fails on
 * its line, and the error never quotes the value.
 */
#include <stdbool.h>
#include <string.h>

#include "core/config.h"
#include "fuzz.h"

#define NAME   "fuzz.env"
#define MARKER "S3CR3T" /* starts every value whose echo is looked for */

struct text {
	char *p;
	size_t len;
};

static void add(struct text *t, const char *s, size_t n)
{
	t->p = realloc(t->p, t->len + n + 1);
	CHECK(t->p, "out of memory");
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void adds(struct text *t, const char *s)
{
	add(t, s, strlen(s));
}

static bool key_ok(const char *k)
{
	if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_'))
		return false;
	return strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
	       strlen(k);
}

static void any_file(const char *text, size_t len)
{
	struct config_var *vars;
	size_t n, lines = 1;
	struct verror err;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	if (config_dotenv_parse(text, len, NAME, &vars, &n, &err) != VERR_OK) {
		CHECK(err.code == VERR_INVALID, "code %d", err.code);
		CHECK(strncmp(err.detail, NAME ":", strlen(NAME ":")) == 0, "detail %s",
		      err.detail);
		return;
	}
	CHECK(n <= lines, "%zu assignments in %zu lines", n, lines);
	for (size_t i = 0; i < n; i++) {
		CHECK(key_ok(vars[i].key), "key \"%s\"", vars[i].key);
		CHECK(strlen(vars[i].value) <= len, "a value longer than the file");
	}
	config_vars_free(vars, n);
}

/* Parses t, which must hold FIRST=1, FUZZ_KEY=want and LAST=2 in that order. */
static void expect(const struct text *t, const char *want)
{
	struct config_var *vars;
	size_t n;
	struct verror err;
	CHECK(config_dotenv_parse(t->p, t->len, NAME, &vars, &n, &err) == VERR_OK, "\"%s\": %s",
	      t->p, err.detail);
	CHECK(n == 3, "%zu assignments in \"%s\"", n, t->p);
	CHECK(strcmp(vars[0].key, "FIRST") == 0 && strcmp(vars[0].value, "1") == 0, "first");
	CHECK(strcmp(vars[1].key, "FUZZ_KEY") == 0, "key %s", vars[1].key);
	CHECK(strcmp(vars[1].value, want) == 0, "\"%s\" read back as \"%s\" from \"%s\"", want,
	      vars[1].value, t->p);
	CHECK(strcmp(vars[2].key, "LAST") == 0 && strcmp(vars[2].value, "2") == 0, "last");
	config_vars_free(vars, n);
}

/* FIRST=1, then FUZZ_KEY=value as spelt (line break nl), then LAST=2. */
static void spell(struct text *t, const char *prefix, const char *value, const char *suffix,
                  const char *nl)
{
	t->len = 0;
	adds(t, "# a comment\nFIRST=1");
	adds(t, nl);
	adds(t, prefix);
	adds(t, value);
	adds(t, suffix);
	adds(t, nl);
	adds(t, "\nLAST=2\n");
}

static void round_trip(const uint8_t *data, size_t size)
{
	struct text v = {0}, dq = {0}, t = {0};
	adds(&v, MARKER);
	for (size_t i = 0; i < size; i++)
		if (data[i] && data[i] != '\n' && data[i] != '\r')
			add(&v, (const char *)data + i, 1);
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] == '"' || v.p[i] == '\\')
			adds(&dq, "\\");
		add(&dq, v.p + i, 1);
	}
	const char *nl = size % 2 ? "\r\n" : "\n";

	spell(&t, "FUZZ_KEY=\"", dq.p, "\"", nl);
	expect(&t, v.p);
	spell(&t, "export  FUZZ_KEY =\t\"", dq.p, "\"  # comment", nl);
	expect(&t, v.p);
	if (!strchr(v.p, '\'')) {
		spell(&t, "FUZZ_KEY='", v.p, "'", nl);
		expect(&t, v.p);
	}
	/* Bare: no blanks around it, no "#" after a blank inside it. */
	bool bare = v.p[v.len - 1] != ' ' && v.p[v.len - 1] != '\t' && !strstr(v.p, " #") &&
	            !strstr(v.p, "\t#");
	if (bare) {
		spell(&t, "FUZZ_KEY=", v.p, "", nl);
		expect(&t, v.p);
		spell(&t, "  FUZZ_KEY=  ", v.p, " \t# comment", nl);
		expect(&t, v.p);
	}

	/* An unterminated value fails on its line without being quoted. */
	struct config_var *vars;
	size_t n;
	struct verror err;
	spell(&t, "FUZZ_KEY=\"", dq.p, "", nl);
	CHECK(config_dotenv_parse(t.p, t.len, NAME, &vars, &n, &err) == VERR_INVALID,
	      "an unterminated value parsed: %s", t.p);
	CHECK(strncmp(err.detail, NAME ":3: ", strlen(NAME ":3: ")) == 0, "detail %s", err.detail);
	CHECK(!strstr(err.detail, MARKER), "the value is quoted: %s", err.detail);
	free(v.p);
	free(dq.p);
	free(t.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	if (take_byte(&in) & 1)
		round_trip(in.p, in.n);
	else
		any_file((const char *)in.p, in.n);
	return 0;
}
