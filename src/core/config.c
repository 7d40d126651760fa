/*
 * config.c - settings from the environment over an optional .env file
 * (see config.h).
 *
 * Every setting is one row of a table (settings[] below): name, type,
 * range, default and a line of help. The loader, `vault --help` and the
 * test that holds .env.example to the defaults all read that table.
 *
 * Loading runs in three steps: read .env into a list of KEY/VALUE pairs,
 * look each setting of the table up (envp first, then .env), and parse it
 * into a scratch struct config. Only a fully valid scratch struct is handed to the
 * caller, so an error leaves nothing allocated. Error details quote a bad
 * value cut short and escaped onto one line, and never quote SECRET_KEY or
 * DATABASE_URL (a database URL may carry a password).
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/security.h"

#define DOTENV_MAX_BYTES (1024 * 1024) /* a .env file larger than this is a mistake */
#define ECHO_MAX         64            /* bytes of a bad value quoted back in an error */
#define QUOTE_BUF        (2 + ECHO_MAX * 4 + 3 + 1) /* quotes, \xHH per byte, "...", NUL */
#define SECRET_MIN       32
#define SECRET_RANDOM    32 /* random bytes of a development key: 64 hex characters */
#define SECRET_HINT      "(try: openssl rand -hex 32)"
#define HOST_MAX         255

#define DEFAULT_HOST         "127.0.0.1"
#define DEFAULT_DATABASE_URL "sqlite:///./data/vault.db"
#define SQLITE_PREFIX        "sqlite:///"
#define DEFAULT_MODEL_DIR    "./data/models/use-lite-v1"
#define ORIGIN_EXPECTED      "* or http(s)://host[:port], e.g. https://notes.example.com"

/* ------------------------------------------------------------------------
 * Sources: envp over .env
 * ------------------------------------------------------------------------ */

struct dotenv {
	struct config_var *pairs;
	size_t n, cap;
};

struct source {
	char *const *envp;
	const struct dotenv *dotenv;
};

/* Wipes and frees a string that may hold a secret; accepts NULL. */
static void free_wiped(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void config_vars_free(struct config_var *vars, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(vars[i].key);
		free_wiped(vars[i].value);
	}
	free(vars);
}

static void dotenv_free(struct dotenv *d)
{
	config_vars_free(d->pairs, d->n);
	memset(d, 0, sizeof(*d));
}

/* Takes ownership of key and value. */
static void dotenv_add(struct dotenv *d, char *key, char *value)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->pairs = xrealloc(d->pairs, d->cap * sizeof(*d->pairs));
	}
	d->pairs[d->n].key = key;
	d->pairs[d->n].value = value;
	d->n++;
}

/* The value of name, or NULL when neither source sets it. */
static const char *lookup(const struct source *src, const char *name)
{
	size_t len = strlen(name);
	if (src->envp)
		for (char *const *e = src->envp; *e; e++)
			if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
				return *e + len + 1;
	/* The last assignment in .env wins, as when a shell sources the file. */
	for (size_t i = src->dotenv->n; i-- > 0;)
		if (strcmp(src->dotenv->pairs[i].key, name) == 0)
			return src->dotenv->pairs[i].value;
	return NULL;
}

/* ------------------------------------------------------------------------
 * .env parsing
 * ------------------------------------------------------------------------ */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_key_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_key_char(char c)
{
	return is_key_start(c) || (c >= '0' && c <= '9');
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

/*
 * What may follow a closing quote: blanks, then nothing or a # comment.
 * Returns false if anything else does.
 */
static bool only_comment_left(const char *p, const char *end)
{
	p = skip_blanks(p, end);
	return p == end || *p == '#';
}

/*
 * Parses one .env line s[0..n), without its line break. Returns true with
 * *key and *value set (caller frees both) for an assignment, true with *key
 * NULL for a blank or comment line, and false with a description in problem
 * for a malformed line. The description never quotes the value.
 */
static bool parse_line(const char *s, size_t n, char **key, char **value, char *problem,
                       size_t problem_size)
{
	const char *p = s, *end = s + n;
	*key = *value = NULL;

	if (memchr(s, '\0', n)) {
		snprintf(problem, problem_size, "contains a NUL byte; expected a text line");
		return false;
	}
	p = skip_blanks(p, end);
	if (p == end || *p == '#')
		return true;
	if (end - p > 6 && strncmp(p, "export", 6) == 0 && is_blank(p[6]))
		p = skip_blanks(p + 6, end);

	const char *k = p;
	if (p == end || !is_key_start(*p)) {
		snprintf(problem, problem_size,
		         "malformed line; expected KEY=VALUE with KEY of letters, digits and _");
		return false;
	}
	while (p < end && is_key_char(*p))
		p++;
	size_t klen = (size_t)(p - k);
	p = skip_blanks(p, end);
	if (p == end || *p != '=') {
		snprintf(problem, problem_size,
		         "malformed line; expected KEY=VALUE with KEY of letters, digits and _");
		return false;
	}
	p = skip_blanks(p + 1, end);

	/* A value is never longer than the rest of the line. */
	char *v = xmalloc((size_t)(end - p) + 1);
	size_t vlen = 0;
	if (p < end && *p == '\'') {
		/* Single quotes: literal up to the next single quote. */
		const char *close = memchr(p + 1, '\'', (size_t)(end - p - 1));
		if (!close) {
			snprintf(problem, problem_size,
			         "%.*s: unterminated single-quoted value; expected a closing '",
			         (int)(klen > 64 ? 64 : klen), k);
			goto bad;
		}
		vlen = (size_t)(close - p - 1);
		memcpy(v, p + 1, vlen);
		p = close + 1;
	} else if (p < end && *p == '"') {
		/* Double quotes: \n \r \t \" \\ are escapes; other backslashes stay. */
		bool closed = false;
		for (p++; p < end; p++) {
			if (*p == '"') {
				closed = true;
				p++;
				break;
			}
			if (*p == '\\' && p + 1 < end) {
				p++;
				switch (*p) {
				case 'n':
					v[vlen++] = '\n';
					break;
				case 'r':
					v[vlen++] = '\r';
					break;
				case 't':
					v[vlen++] = '\t';
					break;
				case '"':
				case '\\':
					v[vlen++] = *p;
					break;
				default:
					v[vlen++] = '\\';
					v[vlen++] = *p;
				}
				continue;
			}
			v[vlen++] = *p;
		}
		if (!closed) {
			snprintf(problem, problem_size,
			         "%.*s: unterminated double-quoted value; expected a closing \"",
			         (int)(klen > 64 ? 64 : klen), k);
			goto bad;
		}
	} else {
		/* Unquoted: up to a # that follows a blank, then trimmed. */
		const char *q = p;
		while (q < end && !(*q == '#' && q > s && is_blank(q[-1])))
			q++;
		while (q > p && is_blank(q[-1]))
			q--;
		vlen = (size_t)(q - p);
		memcpy(v, p, vlen);
		p = end;
	}
	if (!only_comment_left(p, end)) {
		snprintf(problem, problem_size,
		         "%.*s: text after the closing quote; expected nothing or a # comment",
		         (int)(klen > 64 ? 64 : klen), k);
		goto bad;
	}
	v[vlen] = '\0';
	*key = xstrndup(k, klen);
	*value = v;
	return true;
bad:
	explicit_bzero(v, vlen);
	free(v);
	return false;
}

enum verr config_dotenv_parse(const char *text, size_t len, const char *name,
                              struct config_var **vars, size_t *n, struct verror *err)
{
	struct dotenv d = {0};
	size_t lineno = 0;
	*vars = NULL;
	*n = 0;
	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ln = nl ? (size_t)(nl - line) : len - pos;
		pos += ln + (nl ? 1 : 0);
		lineno++;
		if (ln > 0 && line[ln - 1] == '\r')
			ln--;

		char *key, *value, problem[256];
		if (!parse_line(line, ln, &key, &value, problem, sizeof(problem))) {
			dotenv_free(&d);
			return verr_set(err, VERR_INVALID, "%s:%zu: %s", name, lineno, problem);
		}
		if (key)
			dotenv_add(&d, key, value);
	}
	*vars = d.pairs;
	*n = d.n;
	return VERR_OK;
}

/*
 * Reads path into d. A NULL path or a missing file is no .env; anything else
 * that stops the file from being read, and every malformed line, is
 * VERR_INVALID naming the file (and line).
 */
static enum verr dotenv_read(const char *path, struct dotenv *d, struct verror *err)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t len = 0;
	enum verr rc = VERR_OK;
	struct stat st;

	if (!path)
		return VERR_OK;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return VERR_OK;
		return verr_set(err, VERR_INVALID,
		                "%s: cannot be read (%s); expected a KEY=VALUE file", path,
		                strerror(errno));
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = verr_set(err, VERR_INVALID,
		              "%s: is not a regular file; expected a KEY=VALUE file", path);
		goto out;
	}
	if (st.st_size > DOTENV_MAX_BYTES) {
		rc = verr_set(err, VERR_INVALID, "%s: is %lld bytes; expected at most %d", path,
		              (long long)st.st_size, DOTENV_MAX_BYTES);
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		rc = verr_set(err, VERR_INVALID,
		              "%s: cannot be read (%s); expected a KEY=VALUE file", path,
		              strerror(errno));
		goto out;
	}
	rc = config_dotenv_parse(buf, len, path, &d->pairs, &d->n, err);
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	fclose(f);
	return rc;
}

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

/*
 * Writes value as a double-quoted string on one line into out: at most
 * ECHO_MAX bytes of it, "..." after a cut, and every byte outside printable
 * ASCII as \xHH (so the detail stays one line of valid UTF-8).
 */
static void quote(const char *value, char out[QUOTE_BUF])
{
	size_t o = 0, i;
	out[o++] = '"';
	for (i = 0; value[i] && i < ECHO_MAX; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(out + o, QUOTE_BUF - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	if (value[i]) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Sets a one-line `NAME: "value" problem; expected form` error. */
static enum verr bad_value(struct verror *err, const char *name, const char *value,
                           const char *problem, const char *expected)
{
	char q[QUOTE_BUF];
	quote(value, q);
	return verr_set(err, VERR_INVALID, "%s: %s %s; expected %s", name, q, problem, expected);
}

/* ------------------------------------------------------------------------
 * The settings: one table (at the end of this section) of every variable,
 * its type, range, default and help. config_load() reads them in its order,
 * `vault --help` lists them, and tests/unit/test_settings.c checks
 * .env.example against it.
 * ------------------------------------------------------------------------ */

enum kind {
	K_BOOL,   /* bool */
	K_INT,    /* int, within [min, max] */
	K_SIZE,   /* size_t, within [min, max] */
	K_I64,    /* int64_t, within [min, max] */
	K_REAL,   /* double, within [min, max] */
	K_CHOICE, /* an enum, one of choices (case-insensitive) */
	K_STRING, /* char *, not empty */
	K_CUSTOM, /* parse() does it all */
};

struct choice {
	const char *name;
	int value;
};

struct setting {
	const char *name;
	enum kind kind;
	size_t off;                   /* of the field in struct config */
	long long min, max;           /* K_INT, K_SIZE, K_I64, K_REAL */
	const struct choice *choices; /* K_CHOICE, NULL-terminated */
	const char *expected;         /* K_CHOICE and K_STRING: the form, for errors and help */
	const char *def;              /* the default as text, as .env.example shows it */
	/* A default that follows the settings read before (NULL: def). */
	const char *(*def_of)(const struct config *c, char buf[32]);
	/* K_CUSTOM: parses v (the value, else def; NULL when neither) into c. */
	enum verr (*parse)(const char *v, struct config *c, struct verror *err);
	/* Checks the value just read against those before it (NULL: none). */
	enum verr (*check)(const struct source *src, struct config *c, struct verror *err);
	const char *help; /* one line for --help */
};

static enum verr parse_bool(const char *name, const char *v, bool *out, struct verror *err)
{
	static const char *const truthy[] = {"true", "1", "yes", "on"};
	static const char *const falsy[] = {"false", "0", "no", "off"};
	for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
		if (strcasecmp(v, truthy[i]) == 0) {
			*out = true;
			return VERR_OK;
		}
		if (strcasecmp(v, falsy[i]) == 0) {
			*out = false;
			return VERR_OK;
		}
	}
	return bad_value(err, name, v, "is not a boolean", "true/false, 1/0, yes/no or on/off");
}

/* A whole decimal number (digits only) within [min, max]. */
static enum verr parse_int(const struct setting *s, const char *v, long long *out,
                           struct verror *err)
{
	char range[48];
	long long n = 0;
	snprintf(range, sizeof(range), "%lld-%lld", s->min, s->max);
	if (*v == '\0' || strspn(v, "0123456789") != strlen(v))
		return bad_value(err, s->name, v, "is not a whole number", range);
	/* Stop adding digits once past max, so no input can overflow n. */
	for (const char *p = v; *p && n <= s->max; p++)
		n = n * 10 + (*p - '0');
	if (n < s->min || n > s->max)
		return bad_value(err, s->name, v, "is out of range", range);
	*out = n;
	return VERR_OK;
}

/* A decimal number within [min, max]. */
static enum verr parse_real(const struct setting *s, const char *v, double *out, struct verror *err)
{
	char range[48];
	char *end;
	snprintf(range, sizeof(range), "a number from %g to %g", (double)s->min, (double)s->max);
	errno = 0;
	double d = strtod(v, &end);
	if (*v == '\0' || *end || errno || strspn(v, "0123456789.") != strlen(v))
		return bad_value(err, s->name, v, "is not a number", range);
	if (d < s->min || d > s->max)
		return bad_value(err, s->name, v, "is out of range", range);
	*out = d;
	return VERR_OK;
}

static enum verr parse_choice(const struct setting *s, const char *v, int *out, struct verror *err)
{
	for (const struct choice *ch = s->choices; ch->name; ch++)
		if (strcasecmp(v, ch->name) == 0) {
			*out = ch->value;
			return VERR_OK;
		}
	return bad_value(err, s->name, v, "is not recognised", s->expected);
}

/* Reads setting s from src into c. */
static enum verr load_setting(const struct setting *s, const struct source *src, struct config *c,
                              struct verror *err)
{
	char buf[32];
	const char *v = lookup(src, s->name);
	void *field = (char *)c + s->off;
	long long n = 0;
	enum verr rc = VERR_OK;
	if (!v)
		v = s->def_of ? s->def_of(c, buf) : s->def;
	switch (s->kind) {
	case K_BOOL:
		rc = parse_bool(s->name, v, field, err);
		break;
	case K_INT:
	case K_SIZE:
	case K_I64:
		if ((rc = parse_int(s, v, &n, err)))
			break;
		if (s->kind == K_INT)
			*(int *)field = (int)n;
		else if (s->kind == K_SIZE)
			*(size_t *)field = (size_t)n;
		else
			*(int64_t *)field = n;
		break;
	case K_REAL:
		rc = parse_real(s, v, field, err);
		break;
	case K_CHOICE: /* every enum of struct config is an int (asserted below) */
		rc = parse_choice(s, v, field, err);
		break;
	case K_STRING:
		if (*v == '\0')
			rc = bad_value(err, s->name, v, "is empty", s->expected);
		else
			*(char **)field = xstrdup(v);
		break;
	case K_CUSTOM:
		rc = s->parse(v, c, err);
		break;
	}
	if (rc == VERR_OK && s->check)
		rc = s->check(src, c, err);
	return rc;
}

static enum verr parse_host(const char *v, struct config *c, struct verror *err)
{
	static const char expected[] = "an IP address or host name, e.g. 127.0.0.1 or 0.0.0.0";
	if (*v == '\0')
		return bad_value(err, "HOST", v, "is empty", expected);
	if (strlen(v) > HOST_MAX)
		return bad_value(err, "HOST", v, "is too long", expected);
	for (const char *p = v; *p; p++)
		if (!is_key_char(*p) && !strchr(".-:%[]", *p))
			return bad_value(err, "HOST", v, "is not a host name or IP address",
			                 expected);
	c->host = xstrdup(v);
	return VERR_OK;
}

/*
 * sqlite:/// and a non-empty path, or postgresql:// (postgres://) and the
 * rest, which libpq checks when the store opens. The value is never quoted
 * back, since it may carry a password; at most a short, plain scheme name is.
 */
static enum verr parse_database_url(const char *v, struct config *c, struct verror *err)
{
	static const char expected[] = "sqlite:///path/to/vault.db (e.g. " DEFAULT_DATABASE_URL
	                               ") or postgresql://user:password@host:port/database";
	static const char *const pg[] = {"postgresql://", "postgres://"};
	if (strncmp(v, SQLITE_PREFIX, strlen(SQLITE_PREFIX)) == 0) {
		if (v[strlen(SQLITE_PREFIX)] == '\0')
			return verr_set(err, VERR_INVALID,
			                "DATABASE_URL: has no file path; expected %s", expected);
		c->database_url = xstrdup(v);
		return VERR_OK;
	}
	for (size_t i = 0; i < 2; i++)
		if (strncmp(v, pg[i], strlen(pg[i])) == 0) {
			c->database_url = xstrdup(v);
			return VERR_OK;
		}
	if (*v == '\0')
		return verr_set(err, VERR_INVALID, "DATABASE_URL: is empty; expected %s", expected);
	const char *sep = strstr(v, "://");
	size_t slen = sep ? (size_t)(sep - v) : 0;
	if (strncmp(v, "sqlite:", 7) == 0)
		return verr_set(err, VERR_INVALID,
		                "DATABASE_URL: is not a sqlite:/// URL (three slashes, then the "
		                "path); expected %s",
		                expected);
	if (sep && slen > 0 && slen <= 16 &&
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789+.-") >= slen)
		return verr_set(err, VERR_INVALID,
		                "DATABASE_URL: scheme \"%.*s\" is not supported; expected %s",
		                (int)slen, v, expected);
	return verr_set(err, VERR_INVALID, "DATABASE_URL: is not a supported URL; expected %s",
	                expected);
}

/* Never quotes the key: errors say only how long it is and what is expected. */
static enum verr parse_secret(const char *v, struct config *c, struct verror *err)
{
	if (!v || *v == '\0') {
		if (c->environment == ENV_PRODUCTION)
			return verr_set(
			    err, VERR_INVALID,
			    "SECRET_KEY: is not set; expected at least %d characters in "
			    "production " SECRET_HINT,
			    SECRET_MIN);
		char key[2 * SECRET_RANDOM + 1];
		random_hex(key, SECRET_RANDOM);
		c->secret_key = xstrdup(key);
		c->secret_key_generated = true;
		explicit_bzero(key, sizeof(key));
		return VERR_OK;
	}
	size_t len = strlen(v);
	if (len < SECRET_MIN)
		return verr_set(err, VERR_INVALID,
		                "SECRET_KEY: is %zu characters; expected at least %d " SECRET_HINT,
		                len, SECRET_MIN);
	c->secret_key = xstrdup(v);
	return VERR_OK;
}

/* GET /metrics is off without a token; a short one could be guessed. */
static enum verr parse_metrics_token(const char *v, struct config *c, struct verror *err)
{
	if (!v || *v == '\0')
		return VERR_OK;
	size_t len = strlen(v);
	if (len < SECRET_MIN)
		return verr_set(
		    err, VERR_INVALID,
		    "METRICS_TOKEN: is %zu characters; expected at least %d " SECRET_HINT, len,
		    SECRET_MIN);
	c->metrics_token = xstrdup(v);
	return VERR_OK;
}

static bool is_port(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return false;
	long port = strtol(s, NULL, 10);
	return port >= 1 && port <= 65535;
}

/*
 * Checks e as "*" or an origin, scheme://host[:port], in place: strips one
 * trailing slash and lower-cases it (the form browsers send). Sets err
 * naming the entry as given when it is not one.
 */
static enum verr check_origin(char *e, struct verror *err)
{
	char given[QUOTE_BUF];
	size_t n;

	if (strcmp(e, "*") == 0)
		return VERR_OK;
	quote(e, given);
	if (strncasecmp(e, "http://", 7) != 0 && strncasecmp(e, "https://", 8) != 0)
		return verr_set(err, VERR_INVALID,
		                "ALLOWED_ORIGINS: %s does not start with http:// or https://; "
		                "expected " ORIGIN_EXPECTED,
		                given);
	char *host = e + (strncasecmp(e, "https://", 8) == 0 ? 8 : 7);
	n = strlen(host);
	if (n > 0 && host[n - 1] == '/')
		host[--n] = '\0';
	for (char *p = e; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');

	if (strpbrk(host, "/?#"))
		return verr_set(err, VERR_INVALID,
		                "ALLOWED_ORIGINS: %s has a path; expected " ORIGIN_EXPECTED, given);

	/* host[:port], where host is a name, an IPv4 address or [IPv6]. */
	char *after;
	bool ok;
	if (*host == '[') {
		char *close = strchr(host, ']');
		ok = close && close > host + 1 &&
		     strspn(host + 1, "0123456789abcdef:.") == (size_t)(close - host - 1);
		after = close ? close + 1 : host;
	} else {
		size_t hlen = strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-_");
		ok = hlen > 0;
		after = host + hlen;
	}
	if (ok && *after == ':')
		ok = is_port(after + 1);
	else if (ok)
		ok = *after == '\0';
	if (!ok)
		return verr_set(err, VERR_INVALID,
		                "ALLOWED_ORIGINS: %s is not an origin; expected " ORIGIN_EXPECTED,
		                given);
	return VERR_OK;
}

static void free_origins(char **list)
{
	if (list)
		for (char **p = list; *p; p++)
			free(*p);
	free(list);
}

/* Comma-separated; entries trimmed, empty ones dropped. Always a NULL-terminated list. */
static enum verr parse_origins(const char *v, struct config *c, struct verror *err)
{
	size_t cap = 1, n = 0;
	for (const char *p = v; *p; p++)
		cap += *p == ',';
	char **list = xcalloc(cap + 1, sizeof(*list));
	for (const char *p = v;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *s = p;
		while (s < end && (is_blank(*s) || *s == '\n' || *s == '\r'))
			s++;
		while (end > s && (is_blank(end[-1]) || end[-1] == '\n' || end[-1] == '\r'))
			end--;
		if (end > s) {
			list[n] = xstrndup(s, (size_t)(end - s));
			enum verr rc = check_origin(list[n++], err);
			if (rc) {
				free_origins(list);
				return rc;
			}
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	c->allowed_origins = list;
	c->n_allowed_origins = n;
	return VERR_OK;
}

/* "a.b.c.d", "a.b.c.d/n", "v6", "v6/n" into *out; false if it is none of them. */
static bool parse_cidr(const char *s, struct cidr *out)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	int max = out->family == AF_INET ? 32 : 128;
	if (inet_pton(out->family, addr, out->addr) != 1)
		return false;
	out->bits = max;
	if (slash) {
		const char *b = slash + 1;
		size_t len = strlen(b);
		if (len == 0 || len > 3 || strspn(b, "0123456789") != len)
			return false;
		out->bits = atoi(b);
	}
	return out->bits <= max;
}

/* Comma-separated addresses or CIDRs, blanks around entries ignored. */
static enum verr parse_proxies(const char *v, struct config *c, struct verror *err)
{
	size_t cap = 1;
	for (const char *p = v; *p; p++)
		cap += *p == ',';
	c->trusted_proxies = xcalloc(cap, sizeof(*c->trusted_proxies));
	for (const char *p = v; *p;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		while (p < end && (is_blank(*p) || *p == '\n' || *p == '\r'))
			p++;
		while (end > p && (is_blank(end[-1]) || end[-1] == '\n' || end[-1] == '\r'))
			end--;
		if (end > p) {
			char *entry = xstrndup(p, (size_t)(end - p));
			char given[QUOTE_BUF];
			quote(entry, given);
			bool ok = parse_cidr(entry, &c->trusted_proxies[c->n_trusted_proxies]);
			free(entry);
			if (!ok)
				return verr_set(err, VERR_INVALID,
				                "TRUSTED_PROXIES: %s is not an IP address or CIDR; "
				                "expected e.g. 127.0.0.1, 10.0.0.0/8, ::1",
				                given);
			c->n_trusted_proxies++;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return VERR_OK;
}

/* A secret like SECRET_KEY: never quoted back. Optional: unset or empty is none. */
static enum verr parse_api_key(const char *v, struct config *c, struct verror *err)
{
	(void)err;
	c->openai_api_key = v && *v ? xstrdup(v) : NULL;
	return VERR_OK;
}

static const char *cores(const struct config *c, char buf[32])
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	(void)c;
	snprintf(buf, 32, "%ld", n > 0 ? n : 1);
	return buf;
}

/*
 * The AI defaults follow the provider: the built-in model's name and its 512
 * dimensions (no other size is possible), the hashing embedder's and 384, or
 * OpenAI's text-embedding-3-small and 1536.
 */
static const char *model_of(const struct config *c, char buf[32])
{
	static const char *const models[] = {"use-lite-v1", "local-hash-v1",
	                                     "text-embedding-3-small"};
	(void)buf;
	return models[c->embedding_provider];
}

static const char *dim_of(const struct config *c, char buf[32])
{
	static const char *const dims[] = {"512", "384", "1536"};
	(void)buf;
	return dims[c->embedding_provider];
}

/*
 * Cosine scales differ by model. The local model scores a query and a note
 * it is about 0.2-0.8, unrelated pairs mostly 0-0.45 but up to 0.5 or more:
 * 0.28 costs eval/ next to nothing (MRR 0.638 against 0.639 with no floor)
 * and drops the weakest noise; no floor can make every unrelated query find
 * nothing. The hashed vectors of related texts score about 0.1-0.6;
 * OpenAI's 0.3-0.7 with unrelated ones near 0.1-0.2.
 */
static const char *similarity_of(const struct config *c, char buf[32])
{
	static const char *const similarity[] = {"0.28", "0.1", "0.25"};
	(void)buf;
	return similarity[c->embedding_provider];
}

/* All request bodies in memory together hold at least one of the largest. */
static enum verr check_body_buffer(const struct source *src, struct config *c, struct verror *err)
{
	(void)src;
	if (c->body_buffer_bytes < c->max_body_bytes)
		return verr_set(
		    err, VERR_INVALID,
		    "BODY_BUFFER_BYTES: is %zu, less than MAX_BODY_BYTES (%zu); expected at "
		    "least MAX_BODY_BYTES",
		    c->body_buffer_bytes, c->max_body_bytes);
	return VERR_OK;
}

static enum verr check_local_dim(const struct source *src, struct config *c, struct verror *err)
{
	if (c->embedding_provider == EMBED_LOCAL && c->embedding_dim != 512)
		return bad_value(err, "EMBEDDING_DIM", lookup(src, "EMBEDDING_DIM"),
		                 "does not fit the local model, which gives 512 dimensions",
		                 "512 or no value (EMBEDDING_PROVIDER=hash takes any size)");
	return VERR_OK;
}

static enum verr check_base_url(const struct source *src, struct config *c, struct verror *err)
{
	(void)src;
	if (strncmp(c->openai_base_url, "http://", 7) != 0 &&
	    strncmp(c->openai_base_url, "https://", 8) != 0)
		return bad_value(err, "OPENAI_BASE_URL", c->openai_base_url,
		                 "is not an http(s) URL", "e.g. http://127.0.0.1:11434/v1");
	return VERR_OK;
}

/* OpenAI itself needs a key; a local server (Ollama, vLLM, llama.cpp) may not. */
static enum verr check_api_key(const struct source *src, struct config *c, struct verror *err)
{
	(void)src;
	bool uses_openai = c->embedding_provider == EMBED_OPENAI || c->llm_provider == LLM_OPENAI;
	if (uses_openai && !c->openai_api_key &&
	    strstr(c->openai_base_url, "://api.openai.com") != NULL)
		return verr_set(err, VERR_INVALID,
		                "OPENAI_API_KEY: is not set; expected a key for api.openai.com "
		                "(or point OPENAI_BASE_URL at a local server)");
	return VERR_OK;
}

static const struct choice environments[] = {
    {"development", ENV_DEVELOPMENT}, {"production", ENV_PRODUCTION}, {NULL, 0}};
static const struct choice levels[] = {{"debug", LOG_DEBUG},     {"info", LOG_INFO},
                                       {"warning", LOG_WARNING}, {"warn", LOG_WARNING},
                                       {"error", LOG_ERROR},     {NULL, 0}};
static const struct choice formats[] = {{"json", LOG_JSON}, {"console", LOG_CONSOLE}, {NULL, 0}};
static const struct choice embedders[] = {
    {"local", EMBED_LOCAL}, {"hash", EMBED_HASH}, {"openai", EMBED_OPENAI}, {NULL, 0}};
static const struct choice llms[] = {{"none", LLM_NONE}, {"openai", LLM_OPENAI}, {NULL, 0}};

#define F(field) offsetof(struct config, field)
#define BOOL(name, field, d, h)                                                                    \
	{                                                                                          \
		name, K_BOOL, F(field), .def = d, .help = h                                        \
	}
#define INT(kind, name, field, lo, hi, d, h)                                                       \
	{                                                                                          \
		name, kind, F(field), lo, hi, .def = d, .help = h                                  \
	}
#define CHOICE(name, field, list, form, d, h)                                                      \
	{                                                                                          \
		name, K_CHOICE, F(field), .choices = list, .expected = form, .def = d, .help = h   \
	}
#define STRING(name, field, form, d, h)                                                            \
	{                                                                                          \
		name, K_STRING, F(field), .expected = form, .def = d, .help = h                    \
	}
#define CUSTOM(name, fn, d, h)                                                                     \
	{                                                                                          \
		name, K_CUSTOM, .parse = fn, .def = d, .help = h                                   \
	}

/*
 * Every setting, in the order config_load() reads them: a setting whose
 * default or check depends on another comes after it. .env.example says
 * more about each.
 */
static const struct setting settings[] = {
    CHOICE("ENVIRONMENT", environment, environments, "development or production", "development",
           "production requires SECRET_KEY"),
    BOOL("DEBUG", debug, "false", "5xx answers carry the internal error, in development"),
    CUSTOM("HOST", parse_host, DEFAULT_HOST, "address to listen on"),
    INT(K_INT, "PORT", port, 0, 65535, "8000", "TCP port; 0 picks a free one"),
    CUSTOM("DATABASE_URL", parse_database_url, DEFAULT_DATABASE_URL,
           "sqlite:///path or postgresql://user:password@host:port/database"),
    BOOL("DATABASE_ECHO", database_echo, "false", "log every SQL statement"),
    INT(K_INT, "DB_POOL_SIZE", db_pool_size, 1, 1000, "5",
        "PostgreSQL connections each process keeps open"),
    INT(K_INT, "DB_MAX_OVERFLOW", db_max_overflow, 0, 1000, "10",
        "PostgreSQL connections opened past those under load"),
    INT(K_INT, "DB_POOL_TIMEOUT_SECONDS", db_pool_timeout_seconds, 1, 600, "10",
        "seconds a request waits for a PostgreSQL connection, then 503"),
    INT(K_INT, "DB_STATEMENT_TIMEOUT_SECONDS", db_statement_timeout_seconds, 0, 86400, "30",
        "seconds before a statement is cancelled (503); 0 for never"),
    CUSTOM("SECRET_KEY", parse_secret, NULL,
           "signs access tokens: at least 32 characters; in development a random one per run"),
    INT(K_INT, "ACCESS_TOKEN_EXPIRE_MINUTES", access_token_expire_minutes, 1, 1440, "30",
        "access token lifetime in minutes"),
    INT(K_INT, "REFRESH_TOKEN_EXPIRE_DAYS", refresh_token_expire_days, 1, 365, "14",
        "refresh token lifetime in days"),
    INT(K_INT, "REFRESH_REUSE_GRACE_SECONDS", refresh_reuse_grace_seconds, 0, 60, "5",
        "seconds a spent refresh token counts as a concurrent refresh"),
    INT(K_INT, "BCRYPT_ROUNDS", bcrypt_rounds, 4, 31, "12", "bcrypt cost of password hashes"),
    CUSTOM("ALLOWED_ORIGINS", parse_origins, "",
           "CORS origins, comma-separated: * or http(s)://host[:port]"),
    CHOICE("LOG_LEVEL", log_level, levels, "debug, info, warning or error", "info",
           "least level logged"),
    CHOICE("LOG_FORMAT", log_format, formats, "json or console", "json",
           "json: one object a line; console: for people"),
    INT(K_SIZE, "MAX_BODY_BYTES", max_body_bytes, 1024, 67108864, "2097152",
        "largest request body in bytes"),
    INT(K_SIZE, "MAX_UPLOAD_BYTES", max_upload_bytes, 1048576, 1073741824, "33554432",
        "largest upload of files (POST /api/v1/import) in bytes; at most BODY_BUFFER_BYTES"),
    INT(K_INT, "IDLE_TIMEOUT_SECONDS", idle_timeout_seconds, 1, 3600, "30",
        "seconds an idle connection is kept open"),
    INT(K_INT, "SHUTDOWN_GRACE_SECONDS", shutdown_grace_seconds, 0, 3600, "30",
        "seconds a stopping server gives requests in flight to finish"),
    CUSTOM("METRICS_TOKEN", parse_metrics_token, "",
           "bearer token of GET /metrics: at least 32 characters; empty: /metrics is off"),
    CUSTOM("TRUSTED_PROXIES", parse_proxies, "",
           "proxies whose X-Forwarded-For is believed: addresses or CIDRs"),
    INT(K_INT, "AUTH_RATE_PER_MINUTE", auth_rate_per_minute, 1, 1000000, "60",
        "registers, logins and refreshes a minute per client address"),
    INT(K_INT, "LOGIN_RATE_PER_MINUTE", login_rate_per_minute, 1, 1000000, "10",
        "sign-in attempts a minute per account"),
    {"BCRYPT_THREADS", K_INT, F(bcrypt_threads), 1, 256, .def = "", .def_of = cores,
     .help = "threads hashing passwords; default: the number of cores"},
    INT(K_I64, "USER_MAX_NOTES", user_max_notes, 0, 1000000000, "100000",
        "notes per user; 0 for no limit"),
    INT(K_I64, "USER_MAX_BYTES", user_max_bytes, 0, 1LL << 50, "1073741824",
        "bytes of titles and contents per user; 0 for no limit"),
    {"BODY_BUFFER_BYTES", K_SIZE, F(body_buffer_bytes), 1024, 1LL << 40, .def = "67108864",
     .check = check_body_buffer,
     .help = "bytes all request bodies in memory may hold at once, >= MAX_BODY_BYTES"},
    CHOICE("EMBEDDING_PROVIDER", embedding_provider, embedders, "local, hash or openai", "local",
           "the built-in model, hashed words, or an OpenAI-compatible API"),
    {"EMBEDDING_MODEL", K_STRING, F(embedding_model), .expected = "a model name",
     .def = "use-lite-v1", .def_of = model_of,
     .help = "model recorded with every vector; default: the provider's"},
    STRING("EMBEDDING_MODEL_DIR", embedding_model_dir,
           "the folder of the local model's files (scripts/fetch-model fills it)",
           DEFAULT_MODEL_DIR, "the local model's files"),
    {"EMBEDDING_DIM", K_INT, F(embedding_dim), 8, 4096, .def = "512", .def_of = dim_of,
     .check = check_local_dim,
     .help = "vector dimensions: 512 for local; default 384 for hash, 1536 for openai"},
    INT(K_INT, "EMBED_BATCH_SIZE", embed_batch_size, 1, 2048, "64", "texts per embeddings request"),
    BOOL("EMBED_WORKER", embed_worker, "true", "`vault serve` runs the embedding worker"),
    CUSTOM("OPENAI_API_KEY", parse_api_key, NULL,
           "key of the OpenAI-compatible API; needed for api.openai.com"),
    {"OPENAI_BASE_URL", K_STRING, F(openai_base_url), .expected = "http(s)://host[:port]/v1",
     .def = "https://api.openai.com/v1", .check = check_base_url,
     .help = "the OpenAI-compatible API"},
    {"LLM_PROVIDER", K_CHOICE, F(llm_provider), .choices = llms, .expected = "none or openai",
     .def = "none", .check = check_api_key,
     .help = "answers (ask): none, or an OpenAI-compatible API"},
    STRING("LLM_MODEL", llm_model, "a model name", "gpt-4o-mini", "chat model for answers"),
    INT(K_INT, "CONTEXT_TOKENS", context_tokens, 256, 1000000, "3000", "token budget of a prompt"),
    INT(K_INT, "AI_TIMEOUT_SECONDS", ai_timeout_seconds, 1, 600, "30",
        "seconds an AI request may take (a stream: stay silent)"),
    INT(K_INT, "AI_QUERY_TIMEOUT_SECONDS", ai_query_timeout_seconds, 1, 600, "5",
        "seconds embedding a search query may take"),
    INT(K_INT, "AI_MAX_RETRIES", ai_max_retries, 0, 10, "3",
        "retries of a failed AI request (429, 5xx, timeouts)"),
    {"SEARCH_MIN_SIMILARITY", K_REAL, F(search_min_similarity), 0, 1, .def = "0.28",
     .def_of = similarity_of,
     .help = "semantic matches below it are dropped; default 0.28 local, 0.1 hash, 0.25 openai"},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static_assert(sizeof(enum environment) == sizeof(int) && sizeof(enum log_level) == sizeof(int) &&
                  sizeof(enum log_format) == sizeof(int) &&
                  sizeof(enum embedding_provider) == sizeof(int) &&
                  sizeof(enum llm_provider) == sizeof(int),
              "K_CHOICE stores an int");

const char *config_setting(size_t i, const char **def)
{
	if (i >= NSETTINGS)
		return NULL;
	*def = settings[i].def ? settings[i].def : "";
	return settings[i].name;
}

void config_help(FILE *out)
{
	fputs("Settings: environment variables, over those of ./.env, shown with their\n"
	      "defaults (.env.example tells more):\n",
	      out);
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		fprintf(out, "  %s=%s", s->name, s->def ? s->def : "");
		if (s->kind == K_BOOL)
			fputs("  (true or false)", out);
		else if (s->kind == K_REAL)
			fprintf(out, "  (%g-%g)", (double)s->min, (double)s->max);
		else if (s->kind == K_INT || s->kind == K_SIZE || s->kind == K_I64)
			fprintf(out, "  (%lld-%lld)", s->min, s->max);
		else if (s->kind == K_CHOICE)
			fprintf(out, "  (%s)", s->expected);
		fprintf(out, "\n      %s\n", s->help);
	}
}

/* ------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------ */

enum verr config_load(struct config *cfg, char *const *envp, const char *dotenv_path,
                      struct verror *err)
{
	struct config c = {0};
	struct dotenv d = {0};
	struct source src = {envp, &d};
	enum verr rc;

	if ((rc = dotenv_read(dotenv_path, &d, err)))
		goto out;
	for (size_t i = 0; i < NSETTINGS && rc == VERR_OK; i++)
		rc = load_setting(&settings[i], &src, &c, err);
out:
	dotenv_free(&d);
	if (rc) {
		config_free(&c);
		memset(cfg, 0, sizeof(*cfg));
		return rc;
	}
	*cfg = c;
	return VERR_OK;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->host);
	free(cfg->database_url);
	free_wiped(cfg->secret_key);
	free_wiped(cfg->metrics_token);
	free_origins(cfg->allowed_origins);
	free(cfg->trusted_proxies);
	free(cfg->embedding_model);
	free(cfg->embedding_model_dir);
	free_wiped(cfg->openai_api_key);
	free(cfg->openai_base_url);
	free(cfg->llm_model);
	memset(cfg, 0, sizeof(*cfg));
}

bool config_proxy_trusted(const struct config *cfg, const char *addr)
{
	struct cidr a;
	if (!cfg->n_trusted_proxies || !parse_cidr(addr, &a))
		return false;
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
		const struct cidr *p = &cfg->trusted_proxies[i];
		if (p->family != a.family)
			continue;
		int full = p->bits / 8, rest = p->bits % 8;
		if (memcmp(p->addr, a.addr, (size_t)full) != 0)
			continue;
		unsigned char mask = (unsigned char)(0xFF00 >> rest);
		if (rest == 0 || (p->addr[full] & mask) == (a.addr[full] & mask))
			return true;
	}
	return false;
}

bool config_origin_allowed(const struct config *cfg, const char *origin)
{
	if (!cfg || !origin || !cfg->allowed_origins)
		return false;
	for (char **p = cfg->allowed_origins; *p; p++)
		if (strcmp(*p, "*") == 0 || strcmp(*p, origin) == 0)
			return true;
	return false;
}
