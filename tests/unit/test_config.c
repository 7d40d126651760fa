/*
 * test_config.c - unit tests of core/config: defaults, every variable's valid
 * and invalid forms, .env parsing, precedence, SECRET_KEY handling and the
 * promise that no error detail ever holds the secret.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

#define SECRET "0123456789abcdef0123456789abcdef" /* exactly 32 characters */

/* envp from string literals: ENVP("PORT=1", "HOST=x"). */
#define ENVP(...) ((char *const[]){__VA_ARGS__, NULL})
#define NO_ENV    ((char *const[]){NULL})

static char dotenv_path[64];

static void remove_dotenv(void)
{
	if (dotenv_path[0])
		unlink(dotenv_path);
	dotenv_path[0] = '\0';
}

/* Writes content to a fresh temporary .env (removing the last one); returns its path. */
static const char *dotenv(const char *content)
{
	remove_dotenv();
	strcpy(dotenv_path, "/tmp/vault-test-config-XXXXXX");
	int fd = mkstemp(dotenv_path);
	cr_assert(fd >= 0, "mkstemp");
	size_t n = strlen(content);
	cr_assert_eq(write(fd, content, n), (ssize_t)n);
	close(fd);
	return dotenv_path;
}

TestSuite(config, .fini = remove_dotenv);

/* Loads and asserts success; the caller frees c. */
static void load_ok(struct config *c, char *const *envp, const char *path)
{
	struct verror err = {0};
	enum verr rc = config_load(c, envp, path, &err);
	cr_assert_eq(rc, VERR_OK, "config_load failed: %s", err.detail);
}

/*
 * Loads, asserts VERR_INVALID with a one-line detail holding each of the
 * (up to two) needles, and that the struct was left with nothing to free.
 */
static void load_fails(char *const *envp, const char *path, const char *needle1,
                       const char *needle2, struct verror *err)
{
	struct config c;
	memset(&c, 0x5a, sizeof(c)); /* garbage in: load must zero it on error */
	verr_clear(err);
	enum verr rc = config_load(&c, envp, path, err);
	cr_assert_eq(rc, VERR_INVALID, "expected VERR_INVALID, got %s (%s)", verr_name(rc),
	             err->detail);
	cr_assert_eq(err->code, VERR_INVALID);
	cr_assert_null(strchr(err->detail, '\n'), "detail is not one line: %s", err->detail);
	if (needle1)
		cr_assert(strstr(err->detail, needle1), "detail \"%s\" lacks \"%s\"", err->detail,
		          needle1);
	if (needle2)
		cr_assert(strstr(err->detail, needle2), "detail \"%s\" lacks \"%s\"", err->detail,
		          needle2);
	cr_assert_null(c.host);
	cr_assert_null(c.database_url);
	cr_assert_null(c.secret_key);
	cr_assert_null(c.allowed_origins);
	cr_assert_eq(c.n_allowed_origins, 0);
	config_free(&c);
}

/* Shorthand: one assignment in envp must fail naming var and the expected form. */
static void fails(const char *assignment, const char *var, const char *expected)
{
	struct verror err;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s: ", var);
	load_fails(ENVP((char *)assignment), NULL, expected, NULL, &err);
	cr_assert_eq(strncmp(err.detail, prefix, strlen(prefix)), 0,
	             "detail \"%s\" does not start with \"%s\"", err.detail, prefix);
	cr_assert(strstr(err.detail, "; expected "), "no expected form in \"%s\"", err.detail);
}

/* ------------------------------------------------------------------------ */

Test(config, defaults)
{
	struct config c;
	load_ok(&c, NO_ENV, NULL);
	cr_assert_eq(c.environment, ENV_DEVELOPMENT);
	cr_assert_not(c.debug);
	cr_assert_str_eq(c.host, "127.0.0.1");
	cr_assert_eq(c.port, 8000);
	cr_assert_str_eq(c.database_url, "sqlite:///./data/vault.db");
	cr_assert_not(c.database_echo);
	cr_assert_eq(c.access_token_expire_minutes, 30);
	cr_assert_eq(c.refresh_token_expire_days, 14);
	cr_assert_eq(c.bcrypt_rounds, 12);
	cr_assert_not_null(c.allowed_origins);
	cr_assert_null(c.allowed_origins[0]);
	cr_assert_eq(c.n_allowed_origins, 0);
	cr_assert_eq(c.log_level, LOG_INFO);
	cr_assert_eq(c.log_format, LOG_JSON);
	cr_assert_eq(c.max_body_bytes, 2097152);
	cr_assert_eq(c.idle_timeout_seconds, 30);
	cr_assert(c.secret_key_generated);
	config_free(&c);
}

Test(config, null_envp_and_missing_dotenv_are_empty_sources)
{
	struct config c;
	load_ok(&c, NULL, "/nonexistent/dir/.env");
	cr_assert_eq(c.port, 8000);
	config_free(&c);
}

Test(config, free_is_safe_on_zeroed_and_twice)
{
	struct config c = {0};
	config_free(&c);
	config_free(NULL);
	load_ok(&c, NO_ENV, NULL);
	config_free(&c);
	cr_assert_null(c.host);
	cr_assert_null(c.secret_key);
	config_free(&c);
}

Test(config, error_without_err_slot)
{
	struct config c;
	cr_assert_eq(config_load(&c, ENVP("PORT=x"), NULL, NULL), VERR_INVALID);
	cr_assert_null(c.host);
}

/* ------------------------------------------------------------------------
 * Variables one by one
 * ------------------------------------------------------------------------ */

Test(config, environment)
{
	struct config c;
	load_ok(&c, ENVP("ENVIRONMENT=Production", "SECRET_KEY=" SECRET), NULL);
	cr_assert_eq(c.environment, ENV_PRODUCTION);
	cr_assert_not(c.secret_key_generated);
	config_free(&c);
	load_ok(&c, ENVP("ENVIRONMENT=DEVELOPMENT"), NULL);
	cr_assert_eq(c.environment, ENV_DEVELOPMENT);
	config_free(&c);

	fails("ENVIRONMENT=staging", "ENVIRONMENT", "development or production");
	fails("ENVIRONMENT=", "ENVIRONMENT", "development or production");
}

Test(config, booleans)
{
	static const char *const yes[] = {"true", "TRUE", "1", "yes", "Yes", "on", "ON"};
	static const char *const no[] = {"false", "False", "0", "no", "NO", "off", "Off"};
	char a[64], b[64];
	struct config c;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(a, sizeof(a), "DEBUG=%s", yes[i]);
		snprintf(b, sizeof(b), "DATABASE_ECHO=%s", yes[i]);
		load_ok(&c, ENVP(a, b), NULL);
		cr_assert(c.debug, "%s", a);
		cr_assert(c.database_echo, "%s", b);
		config_free(&c);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(a, sizeof(a), "DEBUG=%s", no[i]);
		snprintf(b, sizeof(b), "DATABASE_ECHO=%s", no[i]);
		load_ok(&c, ENVP(a, b), NULL);
		cr_assert_not(c.debug, "%s", a);
		cr_assert_not(c.database_echo, "%s", b);
		config_free(&c);
	}
	fails("DEBUG=maybe", "DEBUG", "true/false, 1/0, yes/no or on/off");
	fails("DEBUG=", "DEBUG", "true/false");
	fails("DEBUG=2", "DEBUG", "true/false");
	fails("DEBUG= true", "DEBUG", "true/false");
	fails("DATABASE_ECHO=y", "DATABASE_ECHO", "true/false, 1/0, yes/no or on/off");
}

Test(config, host)
{
	struct config c;
	load_ok(&c, ENVP("HOST=0.0.0.0"), NULL);
	cr_assert_str_eq(c.host, "0.0.0.0");
	config_free(&c);
	load_ok(&c, ENVP("HOST=::1"), NULL);
	cr_assert_str_eq(c.host, "::1");
	config_free(&c);
	load_ok(&c, ENVP("HOST=notes.internal"), NULL);
	cr_assert_str_eq(c.host, "notes.internal");
	config_free(&c);

	fails("HOST=", "HOST", "an IP address or host name");
	fails("HOST=a b", "HOST", "an IP address or host name");
	fails("HOST=http://x/", "HOST", "an IP address or host name");
}

Test(config, port)
{
	struct config c;
	load_ok(&c, ENVP("PORT=0"), NULL);
	cr_assert_eq(c.port, 0);
	config_free(&c);
	load_ok(&c, ENVP("PORT=65535"), NULL);
	cr_assert_eq(c.port, 65535);
	config_free(&c);
	load_ok(&c, ENVP("PORT=08080"), NULL);
	cr_assert_eq(c.port, 8080);
	config_free(&c);

	struct verror err;
	load_fails(ENVP("PORT=abc"), NULL, NULL, NULL, &err);
	cr_assert_str_eq(err.detail, "PORT: \"abc\" is not a whole number; expected 0-65535");
	load_fails(ENVP("PORT=65536"), NULL, NULL, NULL, &err);
	cr_assert_str_eq(err.detail, "PORT: \"65536\" is out of range; expected 0-65535");

	fails("PORT=12abc", "PORT", "0-65535");
	fails("PORT=", "PORT", "0-65535");
	fails("PORT=-1", "PORT", "0-65535");
	fails("PORT=+80", "PORT", "0-65535");
	fails("PORT= 80", "PORT", "0-65535");
	fails("PORT=80.0", "PORT", "0-65535");
	fails("PORT=0x50", "PORT", "0-65535");
	fails("PORT=99999999999999999999999999999999", "PORT", "out of range");
}

Test(config, database_url)
{
	struct config c;
	load_ok(&c, ENVP("DATABASE_URL=sqlite:////var/lib/vault/v.db"), NULL);
	cr_assert_str_eq(c.database_url, "sqlite:////var/lib/vault/v.db");
	config_free(&c);
	load_ok(&c, ENVP("DATABASE_URL=sqlite:///v.db"), NULL);
	cr_assert_str_eq(c.database_url, "sqlite:///v.db");
	config_free(&c);

	fails("DATABASE_URL=sqlite:///", "DATABASE_URL", "sqlite:///path");
	fails("DATABASE_URL=", "DATABASE_URL", "sqlite:///path");
	fails("DATABASE_URL=sqlite://v.db", "DATABASE_URL", "sqlite:///path");
	fails("DATABASE_URL=./v.db", "DATABASE_URL", "sqlite:///path");
	fails("DATABASE_URL=mysql://db/vault", "DATABASE_URL", "sqlite:///path");

	/* PostgreSQL URLs pass as they are; libpq checks them when the store opens. */
	char *pg[] = {"DATABASE_URL=postgresql://vault:hunter2@db:5432/vault",
	              "DATABASE_URL=postgres://db/vault?sslmode=require"};
	for (size_t i = 0; i < 2; i++) {
		load_ok(&c, ENVP(pg[i]), NULL);
		cr_assert_str_eq(c.database_url, pg[i] + strlen("DATABASE_URL="));
		config_free(&c);
	}

	/* Other schemes may carry passwords: the scheme may be named, the rest never. */
	struct verror err;
	load_fails(ENVP("DATABASE_URL=mysql://vault:hunter2@db:5432/vault"), NULL,
	           "\"mysql\" is not supported", "postgresql://", &err);
	cr_assert_null(strstr(err.detail, "hunter2"), "%s", err.detail);
	cr_assert_null(strstr(err.detail, "db:5432"), "%s", err.detail);
}

static void int_var(const char *var, long long min, long long max, int def,
                    int (*field)(const struct config *))
{
	char a[96], expected[64];
	struct config c;

	load_ok(&c, NO_ENV, NULL);
	cr_assert_eq(field(&c), def, "%s default", var);
	config_free(&c);
	snprintf(a, sizeof(a), "%s=%lld", var, min);
	load_ok(&c, ENVP(a), NULL);
	cr_assert_eq(field(&c), min, "%s", a);
	config_free(&c);
	snprintf(a, sizeof(a), "%s=%lld", var, max);
	load_ok(&c, ENVP(a), NULL);
	cr_assert_eq(field(&c), max, "%s", a);
	config_free(&c);

	snprintf(expected, sizeof(expected), "%lld-%lld", min, max);
	snprintf(a, sizeof(a), "%s=%lld", var, min - 1);
	fails(a, var, expected);
	snprintf(a, sizeof(a), "%s=%lld", var, max + 1);
	fails(a, var, expected);
	snprintf(a, sizeof(a), "%s=12abc", var);
	fails(a, var, expected);
	snprintf(a, sizeof(a), "%s=", var);
	fails(a, var, expected);
}

static int access_minutes(const struct config *c)
{
	return c->access_token_expire_minutes;
}
static int refresh_days(const struct config *c)
{
	return c->refresh_token_expire_days;
}
static int bcrypt_rounds(const struct config *c)
{
	return c->bcrypt_rounds;
}
static int max_body(const struct config *c)
{
	return (int)c->max_body_bytes;
}
static int idle_timeout(const struct config *c)
{
	return c->idle_timeout_seconds;
}

Test(config, access_token_expire_minutes)
{
	int_var("ACCESS_TOKEN_EXPIRE_MINUTES", 1, 1440, 30, access_minutes);
}

Test(config, refresh_token_expire_days)
{
	int_var("REFRESH_TOKEN_EXPIRE_DAYS", 1, 365, 14, refresh_days);
}

Test(config, bcrypt_rounds)
{
	int_var("BCRYPT_ROUNDS", 4, 31, 12, bcrypt_rounds);
}

Test(config, max_body_bytes)
{
	int_var("MAX_BODY_BYTES", 1024, 67108864, 2097152, max_body);
}

Test(config, idle_timeout_seconds)
{
	int_var("IDLE_TIMEOUT_SECONDS", 1, 3600, 30, idle_timeout);
}

static int reuse_grace(const struct config *c)
{
	return c->refresh_reuse_grace_seconds;
}

Test(config, refresh_reuse_grace_seconds)
{
	int_var("REFRESH_REUSE_GRACE_SECONDS", 0, 60, 5, reuse_grace);
}

static int pool_size(const struct config *c)
{
	return c->db_pool_size;
}
static int max_overflow(const struct config *c)
{
	return c->db_max_overflow;
}
static int pool_timeout(const struct config *c)
{
	return c->db_pool_timeout_seconds;
}
static int statement_timeout(const struct config *c)
{
	return c->db_statement_timeout_seconds;
}

Test(config, database_pool)
{
	int_var("DB_POOL_SIZE", 1, 1000, 5, pool_size);
	int_var("DB_MAX_OVERFLOW", 0, 1000, 10, max_overflow);
	int_var("DB_POOL_TIMEOUT_SECONDS", 1, 600, 10, pool_timeout);
	int_var("DB_STATEMENT_TIMEOUT_SECONDS", 0, 86400, 30, statement_timeout);
}

Test(config, log_level_and_format)
{
	struct config c;
	load_ok(&c, ENVP("LOG_LEVEL=debug", "LOG_FORMAT=console"), NULL);
	cr_assert_eq(c.log_level, LOG_DEBUG);
	cr_assert_eq(c.log_format, LOG_CONSOLE);
	config_free(&c);
	load_ok(&c, ENVP("LOG_LEVEL=WARNING", "LOG_FORMAT=JSON"), NULL);
	cr_assert_eq(c.log_level, LOG_WARNING);
	cr_assert_eq(c.log_format, LOG_JSON);
	config_free(&c);
	load_ok(&c, ENVP("LOG_LEVEL=error"), NULL);
	cr_assert_eq(c.log_level, LOG_ERROR);
	config_free(&c);

	fails("LOG_LEVEL=verbose", "LOG_LEVEL", "debug, info, warning or error");
	fails("LOG_LEVEL=", "LOG_LEVEL", "debug, info, warning or error");
	fails("LOG_FORMAT=xml", "LOG_FORMAT", "json or console");
}

Test(config, echoed_values_are_cut_and_kept_on_one_line)
{
	char big[400] = "PORT=";
	memset(big + 5, '7', 300);
	big[305] = 'x';
	big[306] = '\0';
	struct verror err;
	load_fails(ENVP(big), NULL, "PORT: \"", "...", &err);
	cr_assert_lt(strlen(err.detail), 160, "%s", err.detail);

	/* A newline (from a double-quoted .env value) is escaped, not printed. */
	load_fails(NO_ENV, dotenv("LOG_LEVEL=\"in\\nfo\"\n"), "\"in\\x0afo\"", NULL, &err);
}

/* ------------------------------------------------------------------------
 * .env files
 * ------------------------------------------------------------------------ */

Test(config, dotenv_syntax)
{
	struct config c;
	const char *path =
	    dotenv("# a comment\n"
	           "\n"
	           "   \t\n"
	           "  # indented comment\n"
	           "export PORT=1234\n"
	           "HOST = 10.0.0.1   # trailing comment\n"
	           "DATABASE_URL=sqlite:///data#1.db\n"
	           "SECRET_KEY='" SECRET "\\n #not a comment'  # comment\n"
	           "ALLOWED_ORIGINS=\"https://a.example\"\n"
	           "LOG_LEVEL=warning\r\n"
	           "DEBUG=\n" /* set below by env, so the empty value is never parsed */
	           "IDLE_TIMEOUT_SECONDS=9");
	load_ok(&c, ENVP("DEBUG=on"), path);
	cr_assert_eq(c.port, 1234);
	cr_assert_str_eq(c.host, "10.0.0.1");
	cr_assert_str_eq(c.database_url, "sqlite:///data#1.db");
	cr_assert_str_eq(c.secret_key, SECRET "\\n #not a comment");
	cr_assert_not(c.secret_key_generated);
	cr_assert_eq(c.n_allowed_origins, 1);
	cr_assert_str_eq(c.allowed_origins[0], "https://a.example");
	cr_assert_eq(c.log_level, LOG_WARNING);
	cr_assert(c.debug);
	cr_assert_eq(c.idle_timeout_seconds, 9);
	config_free(&c);
}

Test(config, dotenv_double_quote_escapes)
{
	struct config c;
	load_ok(&c, NO_ENV,
	        dotenv("SECRET_KEY=\"" SECRET "\\n\\\"q\\\"\\\\\\t\\d # kept\" # gone\n"));
	cr_assert_str_eq(c.secret_key, SECRET "\n\"q\"\\\t\\d # kept");
	config_free(&c);
}

Test(config, dotenv_empty_and_unquoted_values)
{
	struct config c;
	load_ok(&c, NO_ENV,
	        dotenv("ALLOWED_ORIGINS=\n"
	               "HOST=   \t127.0.0.2\t  \n"
	               "SECRET_KEY= #only a comment, so the key is empty\n"
	               "PORT=1\n"
	               "PORT=2\n")); /* the last assignment wins */
	cr_assert_eq(c.n_allowed_origins, 0);
	cr_assert_str_eq(c.host, "127.0.0.2");
	cr_assert(c.secret_key_generated);
	cr_assert_eq(c.port, 2);
	config_free(&c);
}

Test(config, dotenv_text_in_memory)
{
	static const char text[] = "A=1\r\nexport B = 'two words'\n# c\nA=\"x\\ty\"";
	struct config_var *vars;
	size_t n;
	struct verror err;
	cr_assert_eq(config_dotenv_parse(text, sizeof(text) - 1, "mem", &vars, &n, &err), VERR_OK);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(vars[0].key, "A");
	cr_assert_str_eq(vars[0].value, "1");
	cr_assert_str_eq(vars[1].key, "B");
	cr_assert_str_eq(vars[1].value, "two words");
	cr_assert_str_eq(vars[2].value, "x\ty");
	config_vars_free(vars, n);

	static const char bad[] = "A=1\nB='secret value\n";
	cr_assert_eq(config_dotenv_parse(bad, sizeof(bad) - 1, "mem", &vars, &n, &err),
	             VERR_INVALID);
	cr_assert_eq(n, 0);
	cr_assert(strncmp(err.detail, "mem:2: B:", 9) == 0, "%s", err.detail);
	cr_assert_null(strstr(err.detail, "secret"), "%s", err.detail);
}

Test(config, env_wins_over_dotenv)
{
	struct config c;
	const char *path = dotenv("PORT=1111\nHOST=10.1.1.1\nBCRYPT_ROUNDS=5\n");
	load_ok(&c, ENVP("PORT=2222", "BCRYPT_ROUNDS=6"), path);
	cr_assert_eq(c.port, 2222);
	cr_assert_eq(c.bcrypt_rounds, 6);
	cr_assert_str_eq(c.host, "10.1.1.1");
	config_free(&c);

	/* An empty value in the environment still wins (and is then invalid). */
	struct verror err;
	load_fails(ENVP("PORT="), path, "PORT: \"\"", NULL, &err);
}

Test(config, unknown_variables_ignored)
{
	struct config c;
	load_ok(&c,
	        ENVP("PATH=/usr/bin", "NOT_A_SETTING=!!!", "PORTABLE=x", "PORT_=y", "NO_EQUALS",
	             "=odd", "PORT=4321"),
	        dotenv("FOO=bar\nexport BAZ='qux'\nHOSTNAME=???\n"));
	cr_assert_eq(c.port, 4321);
	cr_assert_str_eq(c.host, "127.0.0.1");
	config_free(&c);
}

Test(config, dotenv_malformed_lines_name_file_and_line)
{
	static const char *const bad[] = {
	    "PORT=1\nNOEQUALS\n",
	    "PORT=1\n1BAD=x\n",
	    "PORT=1\nBAD KEY=x\n",
	    "PORT=1\nHOST=\"unterminated\n",
	    "PORT=1\nHOST='unterminated\n",
	    "PORT=1\nHOST='x' junk\n",
	    "PORT=1\nHOST=\"x\"junk\n",
	    "PORT=1\nexport\n",
	    "PORT=1\n=value\n",
	};
	char where[96];
	struct verror err;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = dotenv(bad[i]);
		snprintf(where, sizeof(where), "%s:2: ", path);
		load_fails(NO_ENV, path, where, "expected", &err);
		remove_dotenv();
	}
}

Test(config, dotenv_nul_byte_is_malformed)
{
	remove_dotenv();
	strcpy(dotenv_path, "/tmp/vault-test-config-XXXXXX");
	int fd = mkstemp(dotenv_path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "PORT=1\nHOST=a\0b\n", 16), 16);
	close(fd);
	char where[96];
	snprintf(where, sizeof(where), "%s:2: ", dotenv_path);
	struct verror err;
	load_fails(NO_ENV, dotenv_path, where, "NUL", &err);
}

Test(config, dotenv_unreadable_names_file)
{
	char dir[] = "/tmp/vault-test-config-dir-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	struct verror err;
	load_fails(NO_ENV, dir, dir, "expected a KEY=VALUE file", &err);
	rmdir(dir);
}

/* ------------------------------------------------------------------------
 * SECRET_KEY
 * ------------------------------------------------------------------------ */

Test(config, production_requires_secret_key)
{
	struct verror err;
	load_fails(ENVP("ENVIRONMENT=production"), NULL, "SECRET_KEY: is not set",
	           "expected at least 32", &err);
	load_fails(ENVP("ENVIRONMENT=production", "SECRET_KEY="), NULL,
	           "SECRET_KEY: ", "expected at least 32", &err);
	load_fails(NO_ENV, dotenv("ENVIRONMENT=production\n"), "SECRET_KEY: ", "at least 32", &err);
}

Test(config, short_secret_key_rejected_everywhere)
{
	struct verror err;
	load_fails(ENVP("SECRET_KEY=tooshortsecret12"), NULL, NULL, NULL, &err);
	cr_assert_str_eq(err.detail, "SECRET_KEY: is 16 characters; expected at least 32 "
	                             "(try: openssl rand -hex 32)");
	load_fails(ENVP("ENVIRONMENT=production", "SECRET_KEY=tooshortsecret12"), NULL,
	           "SECRET_KEY: is 16 characters", NULL, &err);
	cr_assert_null(strstr(err.detail, "tooshortsecret12"));
	/* 31 characters: one short. */
	load_fails(ENVP("SECRET_KEY=0123456789abcdef0123456789abcde"), NULL,
	           "SECRET_KEY: is 31 characters", NULL, &err);
}

Test(config, secret_key_accepted)
{
	struct config c;
	load_ok(&c, ENVP("ENVIRONMENT=production", "SECRET_KEY=" SECRET), NULL);
	cr_assert_str_eq(c.secret_key, SECRET);
	cr_assert_not(c.secret_key_generated);
	config_free(&c);
}

static bool is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

Test(config, development_generates_a_fresh_key)
{
	struct config a, b;
	load_ok(&a, NO_ENV, NULL);
	load_ok(&b, ENVP("SECRET_KEY="), NULL);
	cr_assert(a.secret_key_generated);
	cr_assert(b.secret_key_generated);
	cr_assert(is_hex64(a.secret_key), "%s", a.secret_key);
	cr_assert(is_hex64(b.secret_key), "%s", b.secret_key);
	cr_assert_str_neq(a.secret_key, b.secret_key);
	config_free(&a);
	config_free(&b);
}

Test(config, secret_never_in_error_detail)
{
	static const char secret[] = "S3CR3T-do-not-print-me-0123456789abcdef";
	char assign[128], line[160];
	struct verror err;

	snprintf(assign, sizeof(assign), "SECRET_KEY=%s", secret);
	/* Errors in other variables after the secret was read. */
	load_fails(ENVP(assign, "BCRYPT_ROUNDS=99"), NULL, "BCRYPT_ROUNDS", NULL, &err);
	cr_assert_null(strstr(err.detail, "S3CR3T"), "%s", err.detail);
	load_fails(ENVP(assign, "ALLOWED_ORIGINS=nope"), NULL, "ALLOWED_ORIGINS", NULL, &err);
	cr_assert_null(strstr(err.detail, "S3CR3T"), "%s", err.detail);
	load_fails(ENVP(assign, "IDLE_TIMEOUT_SECONDS=0"), NULL, "IDLE_TIMEOUT", NULL, &err);
	cr_assert_null(strstr(err.detail, "S3CR3T"), "%s", err.detail);

	/* A short secret. */
	load_fails(ENVP("SECRET_KEY=S3CR3T-short"), NULL, "SECRET_KEY", NULL, &err);
	cr_assert_null(strstr(err.detail, "S3CR3T"), "%s", err.detail);

	/* Malformed .env lines holding the secret. */
	snprintf(line, sizeof(line), "SECRET_KEY=\"%s\n", secret);
	load_fails(NO_ENV, dotenv(line), "SECRET_KEY", "unterminated", &err);
	cr_assert_null(strstr(err.detail, "S3CR3T"), "%s", err.detail);
	remove_dotenv();
	snprintf(line, sizeof(line), "SECRET_KEY='%s' trailing\n", secret);
	load_fails(NO_ENV, dotenv(line), "SECRET_KEY", NULL, &err);
	cr_assert_null(strstr(err.detail, "S3CR3T"), "%s", err.detail);
	remove_dotenv();
	snprintf(line, sizeof(line), "SECRET KEY=%s\n", secret);
	load_fails(NO_ENV, dotenv(line), ":1: ", NULL, &err);
	cr_assert_null(strstr(err.detail, "S3CR3T"), "%s", err.detail);
}

/* ------------------------------------------------------------------------
 * ALLOWED_ORIGINS
 * ------------------------------------------------------------------------ */

Test(config, allowed_origins_parsing)
{
	struct config c;
	load_ok(&c,
	        ENVP("ALLOWED_ORIGINS= https://notes.example.com , ,http://localhost:3000/,"
	             "HTTPS://Caps.Example,http://[::1]:8080,,"),
	        NULL);
	cr_assert_eq(c.n_allowed_origins, 4);
	cr_assert_str_eq(c.allowed_origins[0], "https://notes.example.com");
	cr_assert_str_eq(c.allowed_origins[1], "http://localhost:3000");
	cr_assert_str_eq(c.allowed_origins[2], "https://caps.example");
	cr_assert_str_eq(c.allowed_origins[3], "http://[::1]:8080");
	cr_assert_null(c.allowed_origins[4]);
	config_free(&c);

	load_ok(&c, ENVP("ALLOWED_ORIGINS= , ,"), NULL);
	cr_assert_eq(c.n_allowed_origins, 0);
	cr_assert_null(c.allowed_origins[0]);
	config_free(&c);

	load_ok(&c, ENVP("ALLOWED_ORIGINS=*"), NULL);
	cr_assert_eq(c.n_allowed_origins, 1);
	cr_assert_str_eq(c.allowed_origins[0], "*");
	config_free(&c);
}

Test(config, allowed_origins_invalid)
{
	static const char *const bad[] = {
	    "ALLOWED_ORIGINS=https://ok.example,ftp://files.example",
	    "ALLOWED_ORIGINS=notes.example.com",
	    "ALLOWED_ORIGINS=https://notes.example.com/app",
	    "ALLOWED_ORIGINS=https://notes.example.com//",
	    "ALLOWED_ORIGINS=https://notes.example.com?x=1",
	    "ALLOWED_ORIGINS=https://",
	    "ALLOWED_ORIGINS=https:///",
	    "ALLOWED_ORIGINS=https://a.example:99999",
	    "ALLOWED_ORIGINS=https://a.example:",
	    "ALLOWED_ORIGINS=https://a.example:0",
	    "ALLOWED_ORIGINS=https://user@a.example",
	    "ALLOWED_ORIGINS=https://a example",
	    "ALLOWED_ORIGINS=**",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		fails(bad[i], "ALLOWED_ORIGINS", "* or http(s)://host[:port]");

	struct verror err;
	load_fails(ENVP("ALLOWED_ORIGINS=https://ok.example, https://x.example/app"), NULL,
	           "\"https://x.example/app\" has a path", NULL, &err);
}

Test(config, origin_allowed)
{
	struct config c;
	load_ok(&c, ENVP("ALLOWED_ORIGINS=https://notes.example.com,http://localhost:3000"), NULL);
	cr_assert(config_origin_allowed(&c, "https://notes.example.com"));
	cr_assert(config_origin_allowed(&c, "http://localhost:3000"));
	cr_assert_not(config_origin_allowed(&c, "http://notes.example.com"));
	cr_assert_not(config_origin_allowed(&c, "https://notes.example.com.evil.test"));
	cr_assert_not(config_origin_allowed(&c, "https://notes.example.co"));
	cr_assert_not(config_origin_allowed(&c, "http://localhost:30001"));
	cr_assert_not(config_origin_allowed(&c, "http://localhost"));
	cr_assert_not(config_origin_allowed(&c, "null"));
	cr_assert_not(config_origin_allowed(&c, ""));
	cr_assert_not(config_origin_allowed(&c, NULL));
	config_free(&c);

	load_ok(&c, ENVP("ALLOWED_ORIGINS=https://a.example,*"), NULL);
	cr_assert(config_origin_allowed(&c, "https://anything.test"));
	cr_assert(config_origin_allowed(&c, "null"));
	config_free(&c);

	load_ok(&c, NO_ENV, NULL);
	cr_assert_not(config_origin_allowed(&c, "http://127.0.0.1:8000"));
	config_free(&c);

	struct config zero = {0};
	cr_assert_not(config_origin_allowed(&zero, "https://a.example"));
}

Test(config, embedding_defaults_follow_the_provider)
{
	struct config c;
	load_ok(&c, NO_ENV, NULL);
	cr_assert_eq(c.embedding_provider, EMBED_LOCAL);
	cr_assert_str_eq(c.embedding_model, "use-lite-v1");
	cr_assert_str_eq(c.embedding_model_dir, "./data/models/use-lite-v1");
	cr_assert_eq(c.embedding_dim, 512);
	cr_assert_float_eq(c.search_min_similarity, 0.28, 1e-9);
	config_free(&c);

	load_ok(&c, ENVP("EMBEDDING_PROVIDER=hash"), NULL);
	cr_assert_eq(c.embedding_provider, EMBED_HASH);
	cr_assert_str_eq(c.embedding_model, "local-hash-v1");
	cr_assert_eq(c.embedding_dim, 384);
	cr_assert_float_eq(c.search_min_similarity, 0.1, 1e-9);
	config_free(&c);

	load_ok(&c, ENVP("EMBEDDING_PROVIDER=openai", "OPENAI_BASE_URL=http://127.0.0.1:1/v1"),
	        NULL);
	cr_assert_eq(c.embedding_provider, EMBED_OPENAI);
	cr_assert_str_eq(c.embedding_model, "text-embedding-3-small");
	cr_assert_eq(c.embedding_dim, 1536);
	config_free(&c);

	load_ok(&c, ENVP("EMBEDDING_PROVIDER=hash", "EMBEDDING_DIM=64", "LLM_PROVIDER=none"), NULL);
	cr_assert_eq(c.embedding_dim, 64);
	config_free(&c);
}

Test(config, embedding_provider_and_local_model)
{
	struct config c;
	fails("EMBEDDING_PROVIDER=neural", "EMBEDDING_PROVIDER", "local, hash or openai");
	/* The local model has one size: another one is a mistake, not a request. */
	fails("EMBEDDING_DIM=384", "EMBEDDING_DIM", "512 or no value");
	load_ok(&c, ENVP("EMBEDDING_DIM=512"), NULL);
	cr_assert_eq(c.embedding_dim, 512);
	config_free(&c);
	fails("EMBEDDING_MODEL_DIR=", "EMBEDDING_MODEL_DIR", "scripts/fetch-model");
	load_ok(&c, ENVP("EMBEDDING_MODEL_DIR=/opt/vault/model"), NULL);
	cr_assert_str_eq(c.embedding_model_dir, "/opt/vault/model");
	config_free(&c);
}
