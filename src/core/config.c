/*
 * config.c - settings from the environment over an optional .env file
 * (see config.h).
 *
 * Loading runs in three steps: read .env into a list of KEY/VALUE pairs,
 * look each known variable up (envp first, then .env), and parse it into a
 * scratch struct config. Only a fully valid scratch struct is handed to the
 * caller, so an error leaves nothing allocated. Error details quote a bad
 * value cut short and escaped onto one line, and never quote SECRET_KEY or
 * DATABASE_URL (a database URL may carry a password).
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
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
#define ORIGIN_EXPECTED      "* or http(s)://host[:port], e.g. https://notes.example.com"

/* ------------------------------------------------------------------------
 * Sources: envp over .env
 * ------------------------------------------------------------------------ */

struct pair {
	char *key;
	char *value;
};

struct dotenv {
	struct pair *pairs;
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

static void dotenv_free(struct dotenv *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->pairs[i].key);
		free_wiped(d->pairs[i].value);
	}
	free(d->pairs);
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

	size_t lineno = 0;
	for (size_t pos = 0; pos < len;) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n > 0 && line[n - 1] == '\r')
			n--;

		char *key, *value, problem[256];
		if (!parse_line(line, n, &key, &value, problem, sizeof(problem))) {
			rc = verr_set(err, VERR_INVALID, "%s:%zu: %s", path, lineno, problem);
			goto out;
		}
		if (key)
			dotenv_add(d, key, value);
	}
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	fclose(f);
	if (rc)
		dotenv_free(d);
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

static enum verr get_bool(const struct source *src, const char *name, bool def, bool *out,
                          struct verror *err)
{
	static const char *const truthy[] = {"true", "1", "yes", "on"};
	static const char *const falsy[] = {"false", "0", "no", "off"};
	const char *v = lookup(src, name);

	*out = def;
	if (!v)
		return VERR_OK;
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
static enum verr get_int(const struct source *src, const char *name, long long min, long long max,
                         long long def, long long *out, struct verror *err)
{
	const char *v = lookup(src, name);
	char range[48];
	long long n = 0;

	*out = def;
	if (!v)
		return VERR_OK;
	snprintf(range, sizeof(range), "%lld-%lld", min, max);
	if (*v == '\0' || strspn(v, "0123456789") != strlen(v))
		return bad_value(err, name, v, "is not a whole number", range);
	/* Stop adding digits once past max, so no input can overflow n. */
	for (const char *p = v; *p && n <= max; p++)
		n = n * 10 + (*p - '0');
	if (n < min || n > max)
		return bad_value(err, name, v, "is out of range", range);
	*out = n;
	return VERR_OK;
}

struct choice {
	const char *name;
	int value;
};

/* One of choices, matched case-insensitively. */
static enum verr get_choice(const struct source *src, const char *name,
                            const struct choice *choices, size_t n, int def, const char *expected,
                            int *out, struct verror *err)
{
	const char *v = lookup(src, name);

	*out = def;
	if (!v)
		return VERR_OK;
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(v, choices[i].name) == 0) {
			*out = choices[i].value;
			return VERR_OK;
		}
	return bad_value(err, name, v, "is not recognised", expected);
}

/* Any string, def when unset; empty is refused. Caller frees *out. */
static enum verr get_string(const struct source *src, const char *name, const char *def,
                            const char *expected, char **out, struct verror *err)
{
	const char *v = lookup(src, name);
	if (!v)
		v = def;
	if (*v == '\0')
		return bad_value(err, name, v, "is empty", expected);
	*out = xstrdup(v);
	return VERR_OK;
}

/* A decimal number within [min, max]. */
static enum verr get_real(const struct source *src, const char *name, double min, double max,
                          double def, double *out, struct verror *err)
{
	const char *v = lookup(src, name);
	char range[48];
	char *end;

	*out = def;
	if (!v)
		return VERR_OK;
	snprintf(range, sizeof(range), "a number from %g to %g", min, max);
	errno = 0;
	double d = strtod(v, &end);
	if (*v == '\0' || *end || errno || strspn(v, "0123456789.") != strlen(v))
		return bad_value(err, name, v, "is not a number", range);
	if (d < min || d > max)
		return bad_value(err, name, v, "is out of range", range);
	*out = d;
	return VERR_OK;
}

static enum verr get_host(const struct source *src, char **out, struct verror *err)
{
	static const char expected[] = "an IP address or host name, e.g. 127.0.0.1 or 0.0.0.0";
	const char *v = lookup(src, "HOST");

	if (!v)
		v = DEFAULT_HOST;
	if (*v == '\0')
		return bad_value(err, "HOST", v, "is empty", expected);
	if (strlen(v) > HOST_MAX)
		return bad_value(err, "HOST", v, "is too long", expected);
	for (const char *p = v; *p; p++)
		if (!is_key_char(*p) && !strchr(".-:%[]", *p))
			return bad_value(err, "HOST", v, "is not a host name or IP address",
			                 expected);
	*out = xstrdup(v);
	return VERR_OK;
}

/*
 * sqlite:/// and a non-empty path, or postgresql:// (postgres://) and the
 * rest, which libpq checks when the store opens. The value is never quoted
 * back, since it may carry a password; at most a short, plain scheme name is.
 */
static enum verr get_database_url(const struct source *src, char **out, struct verror *err)
{
	static const char expected[] = "sqlite:///path/to/vault.db (e.g. " DEFAULT_DATABASE_URL
	                               ") or postgresql://user:password@host:port/database";
	static const char *const pg[] = {"postgresql://", "postgres://"};
	const char *v = lookup(src, "DATABASE_URL");

	if (!v)
		v = DEFAULT_DATABASE_URL;
	if (strncmp(v, SQLITE_PREFIX, strlen(SQLITE_PREFIX)) == 0) {
		if (v[strlen(SQLITE_PREFIX)] == '\0')
			return verr_set(err, VERR_INVALID,
			                "DATABASE_URL: has no file path; expected %s", expected);
		*out = xstrdup(v);
		return VERR_OK;
	}
	for (size_t i = 0; i < 2; i++)
		if (strncmp(v, pg[i], strlen(pg[i])) == 0) {
			*out = xstrdup(v);
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
static enum verr get_secret(const struct source *src, struct config *c, struct verror *err)
{
	const char *v = lookup(src, "SECRET_KEY");

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
static enum verr get_origins(const struct source *src, struct config *c, struct verror *err)
{
	const char *v = lookup(src, "ALLOWED_ORIGINS");
	size_t cap = 1, n = 0;

	if (!v)
		v = "";
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

/* TRUSTED_PROXIES: comma-separated addresses or CIDRs, blanks around entries ignored. */
static enum verr get_proxies(const struct source *src, struct config *c, struct verror *err)
{
	const char *v = lookup(src, "TRUSTED_PROXIES");
	size_t cap = 1;
	for (const char *p = v ? v : ""; *p; p++)
		cap += *p == ',';
	c->trusted_proxies = xcalloc(cap, sizeof(*c->trusted_proxies));
	for (const char *p = v ? v : ""; *p;) {
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

/*
 * Admission control: the client address behind trusted proxies, rate
 * limits on the routes that take a password or a refresh token, the bcrypt
 * threads, and the memory all request bodies may hold at once.
 */
static enum verr get_admission(const struct source *src, struct config *c, struct verror *err)
{
	long long n;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	enum verr rc;
	if ((rc = get_proxies(src, c, err)))
		return rc;
	if ((rc = get_int(src, "AUTH_RATE_PER_MINUTE", 1, 1000000, 60, &n, err)))
		return rc;
	c->auth_rate_per_minute = (int)n;
	if ((rc = get_int(src, "LOGIN_RATE_PER_MINUTE", 1, 1000000, 10, &n, err)))
		return rc;
	c->login_rate_per_minute = (int)n;
	if ((rc = get_int(src, "BCRYPT_THREADS", 1, 256, cores > 0 ? cores : 1, &n, err)))
		return rc;
	c->bcrypt_threads = (int)n;
	if ((rc = get_int(src, "BODY_BUFFER_BYTES", 1024, 1LL << 40, 64LL << 20, &n, err)))
		return rc;
	c->body_buffer_bytes = (size_t)n;
	if ((rc = get_int(src, "USER_MAX_NOTES", 0, 1000000000, 100000, &n, err)))
		return rc;
	c->user_max_notes = n;
	if ((rc = get_int(src, "USER_MAX_BYTES", 0, 1LL << 50, 1LL << 30, &n, err)))
		return rc;
	c->user_max_bytes = n;
	if (c->body_buffer_bytes < c->max_body_bytes)
		return verr_set(
		    err, VERR_INVALID,
		    "BODY_BUFFER_BYTES: is %zu, less than MAX_BODY_BYTES (%zu); expected at "
		    "least MAX_BODY_BYTES",
		    c->body_buffer_bytes, c->max_body_bytes);
	return VERR_OK;
}

/*
 * The AI settings. Defaults follow the provider: the local embedder's model
 * and 384 dimensions, or OpenAI's text-embedding-3-small and 1536. The API
 * key is a secret like SECRET_KEY: never quoted back.
 */
static enum verr get_ai(const struct source *src, struct config *c, struct verror *err)
{
	static const struct choice embedders[] = {
	    {"local", EMBED_LOCAL},
	    {"openai", EMBED_OPENAI},
	};
	static const struct choice llms[] = {
	    {"none", LLM_NONE},
	    {"openai", LLM_OPENAI},
	};
	enum verr rc;
	long long n;
	int choice;

	if ((rc = get_choice(src, "EMBEDDING_PROVIDER", embedders, 2, EMBED_LOCAL,
	                     "local or openai", &choice, err)))
		return rc;
	c->embedding_provider = (enum embedding_provider)choice;
	bool local = c->embedding_provider == EMBED_LOCAL;
	if ((rc = get_string(src, "EMBEDDING_MODEL",
	                     local ? "local-hash-v1" : "text-embedding-3-small", "a model name",
	                     &c->embedding_model, err)))
		return rc;
	if ((rc = get_int(src, "EMBEDDING_DIM", 8, 4096, local ? 384 : 1536, &n, err)))
		return rc;
	c->embedding_dim = (int)n;
	if ((rc = get_int(src, "EMBED_BATCH_SIZE", 1, 2048, 64, &n, err)))
		return rc;
	c->embed_batch_size = (int)n;
	if ((rc = get_bool(src, "EMBED_WORKER", true, &c->embed_worker, err)))
		return rc;

	const char *key = lookup(src, "OPENAI_API_KEY");
	c->openai_api_key = key && *key ? xstrdup(key) : NULL;
	if ((rc = get_string(src, "OPENAI_BASE_URL", "https://api.openai.com/v1",
	                     "http(s)://host[:port]/v1", &c->openai_base_url, err)))
		return rc;
	if (strncmp(c->openai_base_url, "http://", 7) != 0 &&
	    strncmp(c->openai_base_url, "https://", 8) != 0)
		return bad_value(err, "OPENAI_BASE_URL", c->openai_base_url,
		                 "is not an http(s) URL", "e.g. http://127.0.0.1:11434/v1");

	if ((rc = get_choice(src, "LLM_PROVIDER", llms, 2, LLM_NONE, "none or openai", &choice,
	                     err)))
		return rc;
	c->llm_provider = (enum llm_provider)choice;
	if ((rc = get_string(src, "LLM_MODEL", "gpt-4o-mini", "a model name", &c->llm_model, err)))
		return rc;
	/* OpenAI itself needs a key; a local server (Ollama, vLLM, llama.cpp) may not. */
	bool uses_openai = c->embedding_provider == EMBED_OPENAI || c->llm_provider == LLM_OPENAI;
	if (uses_openai && !c->openai_api_key &&
	    strstr(c->openai_base_url, "://api.openai.com") != NULL)
		return verr_set(err, VERR_INVALID,
		                "OPENAI_API_KEY: is not set; expected a key for api.openai.com "
		                "(or point OPENAI_BASE_URL at a local server)");
	if ((rc = get_int(src, "CONTEXT_TOKENS", 256, 1000000, 3000, &n, err)))
		return rc;
	c->context_tokens = (int)n;
	if ((rc = get_int(src, "AI_TIMEOUT_SECONDS", 1, 600, 30, &n, err)))
		return rc;
	c->ai_timeout_seconds = (int)n;
	if ((rc = get_int(src, "AI_QUERY_TIMEOUT_SECONDS", 1, 600, 5, &n, err)))
		return rc;
	c->ai_query_timeout_seconds = (int)n;
	if ((rc = get_int(src, "AI_MAX_RETRIES", 0, 10, 3, &n, err)))
		return rc;
	c->ai_max_retries = (int)n;
	/* Cosine scales differ by model: the hashed local vectors of related texts
	 * score about 0.1-0.6, OpenAI's 0.3-0.7 with unrelated ones near 0.1-0.2. */
	return get_real(src, "SEARCH_MIN_SIMILARITY", 0.0, 1.0, local ? 0.1 : 0.25,
	                &c->search_min_similarity, err);
}

/* ------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------ */

enum verr config_load(struct config *cfg, char *const *envp, const char *dotenv_path,
                      struct verror *err)
{
	static const struct choice environments[] = {
	    {"development", ENV_DEVELOPMENT},
	    {"production", ENV_PRODUCTION},
	};
	static const struct choice formats[] = {
	    {"json", LOG_JSON},
	    {"console", LOG_CONSOLE},
	};
	struct config c = {0};
	struct dotenv d = {0};
	struct source src = {envp, &d};
	enum verr rc;
	long long n;
	int choice;

	if ((rc = dotenv_read(dotenv_path, &d, err)))
		goto out;

	if ((rc = get_choice(&src, "ENVIRONMENT", environments, 2, ENV_DEVELOPMENT,
	                     "development or production", &choice, err)))
		goto out;
	c.environment = (enum environment)choice;
	if ((rc = get_bool(&src, "DEBUG", false, &c.debug, err)))
		goto out;
	if ((rc = get_host(&src, &c.host, err)))
		goto out;
	if ((rc = get_int(&src, "PORT", 0, 65535, 8000, &n, err)))
		goto out;
	c.port = (int)n;
	if ((rc = get_database_url(&src, &c.database_url, err)))
		goto out;
	if ((rc = get_bool(&src, "DATABASE_ECHO", false, &c.database_echo, err)))
		goto out;
	if ((rc = get_int(&src, "DB_POOL_SIZE", 1, 1000, 5, &n, err)))
		goto out;
	c.db_pool_size = (int)n;
	if ((rc = get_int(&src, "DB_MAX_OVERFLOW", 0, 1000, 10, &n, err)))
		goto out;
	c.db_max_overflow = (int)n;
	if ((rc = get_int(&src, "DB_POOL_TIMEOUT_SECONDS", 1, 600, 10, &n, err)))
		goto out;
	c.db_pool_timeout_seconds = (int)n;
	if ((rc = get_int(&src, "DB_STATEMENT_TIMEOUT_SECONDS", 0, 86400, 30, &n, err)))
		goto out;
	c.db_statement_timeout_seconds = (int)n;
	if ((rc = get_secret(&src, &c, err)))
		goto out;
	if ((rc = get_int(&src, "ACCESS_TOKEN_EXPIRE_MINUTES", 1, 1440, 30, &n, err)))
		goto out;
	c.access_token_expire_minutes = (int)n;
	if ((rc = get_int(&src, "REFRESH_TOKEN_EXPIRE_DAYS", 1, 365, 14, &n, err)))
		goto out;
	c.refresh_token_expire_days = (int)n;
	if ((rc = get_int(&src, "REFRESH_REUSE_GRACE_SECONDS", 0, 60, 5, &n, err)))
		goto out;
	c.refresh_reuse_grace_seconds = (int)n;
	if ((rc = get_int(&src, "BCRYPT_ROUNDS", 4, 31, 12, &n, err)))
		goto out;
	c.bcrypt_rounds = (int)n;
	if ((rc = get_origins(&src, &c, err)))
		goto out;

	const char *level = lookup(&src, "LOG_LEVEL");
	c.log_level = LOG_INFO;
	if (level && !log_level_parse(level, &c.log_level)) {
		rc = bad_value(err, "LOG_LEVEL", level, "is not recognised",
		               "debug, info, warning or error");
		goto out;
	}
	if ((rc = get_choice(&src, "LOG_FORMAT", formats, 2, LOG_JSON, "json or console", &choice,
	                     err)))
		goto out;
	c.log_format = (enum log_format)choice;
	if ((rc = get_int(&src, "MAX_BODY_BYTES", 1024, 67108864, 2097152, &n, err)))
		goto out;
	c.max_body_bytes = (size_t)n;
	if ((rc = get_int(&src, "IDLE_TIMEOUT_SECONDS", 1, 3600, 30, &n, err)))
		goto out;
	c.idle_timeout_seconds = (int)n;
	if ((rc = get_int(&src, "SHUTDOWN_GRACE_SECONDS", 0, 3600, 30, &n, err)))
		goto out;
	c.shutdown_grace_seconds = (int)n;
	if ((rc = get_admission(&src, &c, err)))
		goto out;
	if ((rc = get_ai(&src, &c, err)))
		goto out;
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
	free_origins(cfg->allowed_origins);
	free(cfg->trusted_proxies);
	free(cfg->embedding_model);
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
