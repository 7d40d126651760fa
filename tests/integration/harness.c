/*
 * harness.c - server process control, HTTP, raw TCP and CLI helpers for the
 * integration tests (see harness.h).
 */
#include "integration/harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jwt.h>
#include <libpq-fe.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/pg_test.h"

_Static_assert(sizeof(TEST_SECRET_KEY) - 1 == 64, "TEST_SECRET_KEY must be 64 characters");

/* libcurl wants one global init before any thread uses it. */
__attribute__((constructor)) static void harness_init(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	signal(SIGPIPE, SIG_IGN);
}

/* ================================================================== */
/* Utilities */

static void *it_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "harness: out of memory\n");
		abort();
	}
	return p;
}

char *it_strdup(const char *s)
{
	size_t n = strlen(s);
	char *p = it_alloc(n + 1);
	memcpy(p, s, n + 1);
	return p;
}

static char *it_vasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	char *p = it_alloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *it_asprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = it_vasprintf(fmt, ap);
	va_end(ap);
	return p;
}

char *it_repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *p = it_alloc(u * n + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(p + i * u, unit, u);
	p[u * n] = '\0';
	return p;
}

double it_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int64_t it_time(void)
{
	return (int64_t)time(NULL);
}

int64_t it_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_sleep_ms(double ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)((ms - (double)(long)(ms / 1000) * 1000) * 1e6)};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

bool it_contains(const char *haystack, const char *needle, bool nocase)
{
	if (!haystack || !needle)
		return false;
	return nocase ? strcasestr(haystack, needle) != NULL : strstr(haystack, needle) != NULL;
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool it_is_iso_ms(const char *s)
{
	/* 2026-11-24T22:09:04.123Z */
	if (!s || strlen(s) != 24)
		return false;
	return digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' && digits(s + 8, 2) &&
	       s[10] == 'T' && digits(s + 11, 2) && s[13] == ':' && digits(s + 14, 2) &&
	       s[16] == ':' && digits(s + 17, 2) && s[19] == '.' && digits(s + 20, 3) &&
	       s[23] == 'Z';
}

int64_t it_parse_iso_ms(const char *s)
{
	if (!it_is_iso_ms(s))
		return -1;
	struct tm tm = {0};
	int ms = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

char *it_jpack(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	json_error_t jerr;
	json_t *j = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	if (!j) {
		fprintf(stderr, "harness: json_pack(%s): %s\n", fmt, jerr.text);
		abort();
	}
	char *out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (!out)
		abort();
	return out;
}

char *it_urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = it_alloc(3 * n + 1), *p = out;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' || *c == '~') {
			*p++ = (char)*c;
		} else {
			*p++ = '%';
			*p++ = hex[*c >> 4];
			*p++ = hex[*c & 15];
		}
	}
	*p = '\0';
	return out;
}

size_t it_utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* ================================================================== */
/* Environment and directories */

const char *vault_bin(void)
{
	static char path[PATH_MAX];
	if (path[0])
		return path;
	const char *bin = getenv("VAULT_BIN");
	if (!bin || !*bin)
		bin = "build/vault";
	if (!realpath(bin, path)) {
		path[0] = '\0';
		cr_fatal("VAULT_BIN %s not found (%s): build the server first", bin,
		         strerror(errno));
	}
	if (access(path, X_OK) != 0) {
		char copy[PATH_MAX];
		snprintf(copy, sizeof(copy), "%s", path);
		path[0] = '\0';
		cr_fatal("VAULT_BIN %s is not executable", copy);
	}
	return path;
}

static size_t env_len(char *const *env)
{
	size_t n = 0;
	while (env && env[n])
		n++;
	return n;
}

/* Sets (kv = "KEY=VALUE") or removes (kv = "KEY") an entry of env (capacity cap). */
static void env_apply(char **env, size_t cap, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	size_t n = env_len(env);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(env[i], kv, klen) == 0 && env[i][klen] == '=') {
			free(env[i]);
			if (eq) {
				env[i] = it_strdup(kv);
			} else {
				env[i] = env[n - 1];
				env[n - 1] = NULL;
			}
			return;
		}
	}
	if (eq && n + 1 < cap) {
		env[n] = it_strdup(kv);
		env[n + 1] = NULL;
	}
}

bool it_pg(void)
{
	return pg_test_url() != NULL;
}

/* PostgreSQL: dir's own schema, "it_" and a hash of the path (FNV-1a). */
static void pg_schema(const char *dir, char out[32])
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = dir; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(out, 32, "it_%016llx", (unsigned long long)h);
}

/* Runs sql on the test server's database (not a test's schema); asserts. */
static void pg_exec(const char *sql)
{
	char *msg = pg_test_exec(sql);
	if (msg)
		cr_fatal("%s: %s", sql, msg);
}

char *it_database_url(const char *dir)
{
	if (!it_pg())
		return it_asprintf("sqlite:///%s/vault.db", dir);
	char schema[32];
	pg_schema(dir, schema);
	char *sql = it_asprintf("CREATE SCHEMA IF NOT EXISTS %s", schema);
	pg_exec(sql);
	free(sql);
	return pg_test_schema_url(schema, NULL);
}

struct it_db_lock {
	sqlite3 *sq;
	PGconn *pg;
};

struct it_db_lock *it_db_lock(const struct server *s)
{
	struct it_db_lock *l = calloc(1, sizeof(*l));
	if (!l)
		abort();
	if (it_pg()) {
		l->pg = PQconnectdb(s->db_url);
		PGresult *r = PQexec(l->pg, "BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE");
		cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(l->pg));
		PQclear(r);
	} else {
		char *path = it_asprintf("%s/vault.db", s->dir);
		cr_assert_eq(sqlite3_open(path, &l->sq), SQLITE_OK);
		free(path);
		cr_assert_eq(sqlite3_exec(l->sq, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	}
	return l;
}

void it_db_unlock(struct it_db_lock *l)
{
	if (l->pg)
		PQfinish(l->pg); /* ends the transaction, and the lock with it */
	if (l->sq) {
		sqlite3_exec(l->sq, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(l->sq);
	}
	free(l);
}

/*
 * The local model's folder as an absolute path, since servers run in their
 * own directory: EMBEDDING_MODEL_DIR, else vault's default taken from the
 * directory the tests run in (the repository's root).
 */
static const char *model_dir(void)
{
	static char *path;
	if (!path) {
		const char *dir = getenv("EMBEDDING_MODEL_DIR");
		char cwd[PATH_MAX];
		if (!dir || !*dir)
			dir = "data/models/use-lite-v1";
		if (dir[0] == '/' || !getcwd(cwd, sizeof(cwd)))
			path = it_strdup(dir);
		else
			path = it_asprintf("%s/%s", cwd, dir);
	}
	return path;
}

char **env_build(const char *dir, const char *const *extra)
{
	size_t cap = 32 + env_len((char *const *)extra);
	char **env = calloc(cap, sizeof(*env));
	if (!env)
		abort();
	const char *path = getenv("PATH");
	char *kv = it_asprintf("PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
	env_apply(env, cap, kv);
	free(kv);
	env_apply(env, cap, "HOST=127.0.0.1");
	env_apply(env, cap, "PORT=0");
	char *url = it_database_url(dir);
	kv = it_asprintf("DATABASE_URL=%s", url);
	env_apply(env, cap, kv);
	free(kv);
	free(url);
	env_apply(env, cap, "SECRET_KEY=" TEST_SECRET_KEY);
	env_apply(env, cap, "BCRYPT_ROUNDS=4");
	/* Tests sign in far more often than people: limits only where a test sets them. */
	env_apply(env, cap, "AUTH_RATE_PER_MINUTE=1000000");
	env_apply(env, cap, "LOGIN_RATE_PER_MINUTE=1000000");
	env_apply(env, cap, "LOG_FORMAT=json");
	env_apply(env, cap, "LOG_LEVEL=info");
	env_apply(env, cap, "ENVIRONMENT=development");
	kv = it_asprintf("EMBEDDING_MODEL_DIR=%s", model_dir());
	env_apply(env, cap, kv);
	free(kv);
	static const char *const pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
	                                   "TSAN_OPTIONS"};
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		const char *v = getenv(pass[i]);
		if (v) {
			kv = it_asprintf("%s=%s", pass[i], v);
			env_apply(env, cap, kv);
			free(kv);
		}
	}
	for (size_t i = 0; extra && extra[i]; i++)
		env_apply(env, cap, extra[i]);
	return env;
}

void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

void it_mkdtemp(char *buf, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	char real[PATH_MAX];
	if (!realpath(tmp, real))
		snprintf(real, sizeof(real), "/tmp");
	snprintf(buf, size, "%s/vault-it-XXXXXX", real);
	if (!mkdtemp(buf))
		cr_fatal("mkdtemp(%s): %s", buf, strerror(errno));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void it_rmtree(const char *dir)
{
	if (!dir || !*dir || getenv("VAULT_IT_KEEP"))
		return;
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (it_pg()) {
		char schema[32];
		pg_schema(dir, schema);
		char *sql = it_asprintf("DROP SCHEMA IF EXISTS %s CASCADE", schema);
		pg_exec(sql);
		free(sql);
	}
}

/* ================================================================== */
/* Server process */

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Reads path from offset to the end; caller frees. */
static char *read_file_from(const char *path, long offset, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, len = 0;
	char *buf = it_alloc(cap);
	if (f) {
		if (offset > 0)
			fseek(f, offset, SEEK_SET);
		size_t got;
		while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
			len += got;
			if (cap - len < 2) {
				cap *= 2;
				char *nb = realloc(buf, cap);
				if (!nb)
					abort();
				buf = nb;
			}
		}
		fclose(f);
	}
	buf[len] = '\0';
	if (len_out)
		*len_out = len;
	return buf;
}

char *server_log(const struct server *s)
{
	return read_file_from(s->log_path, 0, NULL);
}

char *server_log_tail(const struct server *s)
{
	long size = file_size(s->log_path);
	long from = size > 3000 ? size - 3000 : 0;
	char *tail = read_file_from(s->log_path, from, NULL);
	char *out = it_asprintf("--- server log tail (%s) ---\n%s", s->log_path, tail);
	free(tail);
	return out;
}

static int decode_status(int ws)
{
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return -1;
}

/* Non-blocking reap; true once the process has exited. */
static bool reap(struct server *s)
{
	if (s->pid <= 0)
		return true;
	int ws;
	pid_t r = waitpid(s->pid, &ws, WNOHANG);
	if (r == s->pid) {
		s->exit_status = decode_status(ws);
		s->exited = true;
		s->pid = 0;
		return true;
	}
	if (r < 0 && errno == ECHILD) {
		s->exited = true;
		s->pid = 0;
		return true;
	}
	return false;
}

/* Looks for {"event":"server_started","port":N} in the current run's output. */
static int find_started_port(const struct server *s)
{
	size_t len;
	char *text = read_file_from(s->log_path, s->log_offset, &len);
	int port = -1;
	char *line = text;
	while (port < 0 && line && *line) {
		char *nl = strchr(line, '\n');
		if (!nl)
			break; /* an incomplete line: wait for the rest */
		*nl = '\0';
		json_t *j = json_loads(line, 0, NULL);
		if (j && json_is_object(j)) {
			json_t *ev = json_object_get(j, "event");
			json_t *p = json_object_get(j, "port");
			if (json_is_string(ev) &&
			    strcmp(json_string_value(ev), "server_started") == 0 &&
			    json_is_integer(p))
				port = (int)json_integer_value(p);
		}
		/* LOG_FORMAT=console: "<ts> info    server_started host=... port=N ..." */
		char *hit = strstr(line, " server_started ");
		if (!j && hit && (hit = strstr(hit, " port=")))
			port = atoi(hit + 6);
		json_decref(j);
		line = nl + 1;
	}
	free(text);
	return port;
}

static void spawn(struct server *s)
{
	const char *bin = s->bin ? s->bin : vault_bin();
	char **env = env_build(s->dir, (const char *const *)s->extra_env);
	s->log_offset = file_size(s->log_path);
	s->exited = false;
	s->exit_status = -1;
	s->port = 0;
	pid_t parent = getpid();
	s->started_ms = it_now_ms();
	pid_t pid = fork();
	if (pid < 0)
		cr_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		/* The server dies with the test process, whatever happens to it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (chdir(s->dir) != 0)
			_exit(127);
		int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int nullfd = open("/dev/null", O_RDONLY);
		if (logfd < 0 || nullfd < 0)
			_exit(127);
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		char *argv[] = {(char *)bin, "serve", NULL};
		execve(bin, argv, env);
		_exit(127);
	}
	env_free(env);
	s->pid = pid;

	double deadline = it_now_ms() + START_TIMEOUT_MS;
	for (;;) {
		int port = find_started_port(s);
		if (port > 0) {
			s->port = port;
			snprintf(s->base_url, sizeof(s->base_url), "http://127.0.0.1:%d", port);
			return;
		}
		if (reap(s)) {
			char *tail = server_log_tail(s);
			cr_fatal("server exited with status %d before reporting server_started\n%s",
			         s->exit_status, tail);
		}
		if (it_now_ms() > deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = 0;
			char *tail = server_log_tail(s);
			cr_fatal("no server_started line with an integer port within %d ms\n%s",
			         START_TIMEOUT_MS, tail);
		}
		it_sleep_ms(5);
	}
}

void server_start(struct server *s, const char *const *extra_env)
{
	server_start_bin(s, NULL, extra_env);
}

void server_start_bin(struct server *s, const char *bin, const char *const *extra_env)
{
	memset(s, 0, sizeof(*s));
	s->bin = bin;
	it_mkdtemp(s->dir, sizeof(s->dir));
	snprintf(s->log_path, sizeof(s->log_path), "%s/server.log", s->dir);
	char *url = it_database_url(s->dir);
	snprintf(s->db_url, sizeof(s->db_url), "%s", url);
	free(url);
	size_t n = env_len((char *const *)extra_env);
	s->extra_env = calloc(n + 1, sizeof(char *));
	if (!s->extra_env)
		abort();
	for (size_t i = 0; i < n; i++)
		s->extra_env[i] = it_strdup(extra_env[i]);
	spawn(s);
}

void server_restart(struct server *s)
{
	cr_assert(s->pid == 0, "server_restart: the server is still running");
	spawn(s);
}

void server_setenv(struct server *s, const char *kv)
{
	size_t n = env_len(s->extra_env);
	char **env = calloc(n + 2, sizeof(char *));
	if (!env)
		abort();
	for (size_t i = 0; i < n; i++)
		env[i] = s->extra_env[i];
	env_apply(env, n + 2, kv);
	free(s->extra_env);
	s->extra_env = env;
}

void server_signal(struct server *s, int sig)
{
	if (s->pid > 0)
		kill(s->pid, sig);
}

int server_wait(struct server *s, int timeout_ms)
{
	double deadline = it_now_ms() + timeout_ms;
	while (!reap(s)) {
		if (it_now_ms() > deadline)
			return -1;
		it_sleep_ms(2);
	}
	return s->exit_status;
}

int server_stop(struct server *s)
{
	if (s->pid <= 0)
		return s->exited ? s->exit_status : 0;
	kill(s->pid, SIGTERM);
	int st = server_wait(s, STOP_TIMEOUT_MS);
	if (st == -1) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
		char *tail = server_log_tail(s);
		cr_fatal("server did not exit within %d ms of SIGTERM\n%s", STOP_TIMEOUT_MS, tail);
	}
	return st;
}

/* Whether the current run's output holds an event line named event. */
static bool run_has_event(const struct server *s, const char *event)
{
	char *text = read_file_from(s->log_path, s->log_offset, NULL);
	char *pat = it_asprintf("\"event\":\"%s\"", event);
	char *pat2 = it_asprintf("\"event\": \"%s\"", event);
	bool found = strstr(text, pat) || strstr(text, pat2);
	free(pat);
	free(pat2);
	free(text);
	return found;
}

static bool run_has_sanitizer_report(const struct server *s)
{
	char *text = read_file_from(s->log_path, s->log_offset, NULL);
	bool found = strstr(text, "AddressSanitizer") || strstr(text, "LeakSanitizer") ||
	             strstr(text, "runtime error:") || strstr(text, "ThreadSanitizer");
	free(text);
	return found;
}

void server_stop_ok(struct server *s)
{
	int st = server_stop(s);
	char *tail = server_log_tail(s);
	cr_assert_eq(st, 0, "server exit status %d after SIGTERM, expected 0\n%s", st, tail);
	cr_assert(!run_has_sanitizer_report(s), "sanitizer report in the server log\n%s", tail);
	cr_assert(run_has_event(s, "server_stopped"),
	          "no \"server_stopped\" event after SIGTERM\n%s", tail);
	free(tail);
}

void server_kill9(struct server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	int ws;
	if (waitpid(s->pid, &ws, 0) == s->pid)
		s->exit_status = decode_status(ws);
	s->exited = true;
	s->pid = 0;
}

void server_cleanup(struct server *s)
{
	if (s->pid > 0)
		server_kill9(s);
	if (s->dir[0])
		it_rmtree(s->dir);
	for (size_t i = 0; s->extra_env && s->extra_env[i]; i++)
		free(s->extra_env[i]);
	free(s->extra_env);
	s->extra_env = NULL;
	s->dir[0] = '\0';
}

int server_socket_count(const struct server *s)
{
	if (s->pid <= 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)s->pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char link[PATH_MAX], target[256];
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			n += strncmp(target, "socket:", 7) == 0;
		}
	}
	closedir(d);
	return n;
}

/* ================================================================== */
/* HTTP */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			abort();
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	buf_add(ud, data, size * nmemb);
	return size * nmemb;
}

static void headers_clear(struct http_resp *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	r->headers = NULL;
	r->nheaders = 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct http_resp *r = ud;
	size_t n = size * nmemb;
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue or a redirect): start over. */
		headers_clear(r);
		return n;
	}
	const char *colon = memchr(data, ':', n);
	if (!colon)
		return n;
	const char *v = colon + 1, *end = data + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	struct http_header *nh = realloc(r->headers, (r->nheaders + 1) * sizeof(*nh));
	if (!nh)
		abort();
	r->headers = nh;
	char *name = it_alloc((size_t)(colon - data) + 1);
	memcpy(name, data, (size_t)(colon - data));
	name[colon - data] = '\0';
	char *value = it_alloc((size_t)(end - v) + 1);
	memcpy(value, v, (size_t)(end - v));
	value[end - v] = '\0';
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = value;
	r->nheaders++;
	return n;
}

static bool has_header_line(const char *const *headers, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; headers && headers[i]; i++)
		if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':')
			return true;
	return false;
}

/*
 * With VAULT_IT_RESPONSES (a directory) set, every answer goes to
 * <dir>/<pid>.jsonl as {method, path, status, content_type, body}, for
 * tests/openapi/validate.mjs to check against the OpenAPI document after
 * the run. One write() a line on an O_APPEND file: lines of threads and
 * processes never interleave. A body that is not UTF-8 is recorded as null.
 */
static void record_response(const struct http_req *q, const struct http_resp *r)
{
	const char *dir = getenv("VAULT_IT_RESPONSES");
	if (!dir || !*dir)
		return;
	const char *ct = http_header(r, "Content-Type");
	json_t *body = json_stringn(r->body, r->body_len);
	json_t *line =
	    json_pack("{s:s,s:s,s:i,s:s?,s:o}", "method", q->method, "path", q->path, "status",
	              r->status, "content_type", ct, "body", body ? body : json_null());
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	char *path = it_asprintf("%s/%d.jsonl", dir, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (text && fd >= 0) {
		size_t n = strlen(text);
		text[n] = '\n'; /* json_dumps leaves room: the NUL becomes the line's end */
		if (write(fd, text, n + 1) != (ssize_t)(n + 1))
			fprintf(stderr, "harness: cannot record a response in %s\n", path);
	}
	if (fd >= 0)
		close(fd);
	free(path);
	free(text);
	json_decref(line);
}

int http_do(const char *base_url, const struct http_req *q, struct http_resp *r)
{
	memset(r, 0, sizeof(*r));
	CURL *c = curl_easy_init();
	if (!c)
		return CURLE_FAILED_INIT;
	struct curl_slist *hl = NULL;
	struct buf body = {0};
	char *url = it_asprintf("%s%s", base_url, q->path);
	char *auth = NULL;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms ? q->timeout_ms : HTTP_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);

	hl = curl_slist_append(hl, "Expect:");
	if (q->token) {
		auth = it_asprintf("Authorization: Bearer %s", q->token);
		hl = curl_slist_append(hl, auth);
	}
	if (q->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
		if (!has_header_line(q->headers, "Content-Type"))
			hl = curl_slist_append(hl, "Content-Type: application/json");
	}
	for (size_t i = 0; q->headers && q->headers[i]; i++)
		hl = curl_slist_append(hl, q->headers[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

	double t0 = it_now_ms();
	CURLcode rc = curl_easy_perform(c);
	r->elapsed_ms = it_now_ms() - t0;
	r->curl_err = (int)rc;
	if (rc == CURLE_OK) {
		long status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		r->status = (int)status;
	}
	r->body = body.p ? body.p : it_strdup("");
	r->body_len = body.len;
	r->json = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	if (rc == CURLE_OK)
		record_response(q, r);

	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	free(url);
	free(auth);
	return (int)rc;
}

int http_req(struct server *s, const struct http_req *q, struct http_resp *r)
{
	int rc = http_do(s->base_url, q, r);
	if (rc != CURLE_OK) {
		char *tail = server_log_tail(s);
		cr_fatal("%s %s: transfer failed after %.0f ms: %s (server alive: %s)\n%s",
		         q->method, q->path, r->elapsed_ms, curl_easy_strerror((CURLcode)rc),
		         reap(s) ? "no" : "yes", tail);
	}
	return r->status;
}

int http(struct server *s, const char *method, const char *path, const char *const *headers,
         const char *body, struct http_resp *r)
{
	struct http_req q = {.method = method,
	                     .path = path,
	                     .headers = headers,
	                     .body = body,
	                     .body_len = body ? strlen(body) : 0};
	return http_req(s, &q, r);
}

int api(struct server *s, const char *method, const char *path, const char *token, const char *body,
        struct http_resp *r)
{
	struct http_req q = {.method = method,
	                     .path = path,
	                     .token = token,
	                     .body = body,
	                     .body_len = body ? strlen(body) : 0};
	return http_req(s, &q, r);
}

void http_resp_free(struct http_resp *r)
{
	if (!r)
		return;
	free(r->body);
	json_decref(r->json);
	headers_clear(r);
	memset(r, 0, sizeof(*r));
}

const char *http_header(const struct http_resp *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

bool http_header_has_token(const struct http_resp *r, const char *name, const char *token)
{
	size_t tlen = strlen(token);
	for (size_t i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].name, name) != 0)
			continue;
		const char *p = r->headers[i].value;
		while (*p) {
			while (*p == ' ' || *p == '\t' || *p == ',')
				p++;
			const char *end = p;
			while (*end && *end != ',')
				end++;
			const char *e = end;
			while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if ((size_t)(e - p) == tlen && strncasecmp(p, token, tlen) == 0)
				return true;
			p = end;
		}
	}
	return false;
}

const char *resp_str(const struct http_resp *r, const char *key)
{
	json_t *v = r->json ? json_object_get(r->json, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

void assert_error_body(const struct http_resp *r, const char *what)
{
	const char *ct = http_header(r, "Content-Type");
	cr_assert(ct && strncasecmp(ct, "application/json", 16) == 0,
	          "%s: error Content-Type is %s, expected application/json", what,
	          ct ? ct : "(none)");
	cr_assert(json_is_object(r->json), "%s: error body is not a JSON object: %.300s", what,
	          r->body);
	cr_assert(json_is_string(json_object_get(r->json, "detail")),
	          "%s: error body has no string \"detail\": %.300s", what, r->body);
	cr_assert(strlen(resp_str(r, "detail")) > 0, "%s: empty detail", what);
}

/* ================================================================== */
/* Users and notes */

static atomic_int user_seq;

long long user_register(struct server *s, const char *email, const char *password)
{
	struct http_resp r;
	char *body = it_jpack("{s:s, s:s}", "email", email, "password", password);
	api(s, "POST", "/api/v1/auth/register", NULL, body, &r);
	cr_assert_eq(r.status, 201, "register %s: status %d, body %.300s", email, r.status, r.body);
	json_t *id = json_object_get(r.json, "id");
	cr_assert(json_is_integer(id), "register: no integer id in %.300s", r.body);
	long long out = (long long)json_integer_value(id);
	http_resp_free(&r);
	free(body);
	return out;
}

void user_login(struct server *s, struct it_user *u)
{
	struct http_resp r;
	char *body = it_jpack("{s:s, s:s}", "email", u->email, "password", u->password);
	api(s, "POST", "/api/v1/auth/login", NULL, body, &r);
	cr_assert_eq(r.status, 200, "login %s: status %d, body %.300s", u->email, r.status, r.body);
	const char *a = resp_str(&r, "access_token"), *rt = resp_str(&r, "refresh_token");
	cr_assert(a && rt, "login: tokens missing in %.300s", r.body);
	free(u->access);
	free(u->refresh);
	u->access = it_strdup(a);
	u->refresh = it_strdup(rt);
	http_resp_free(&r);
	free(body);
}

void user_new(struct server *s, struct it_user *u)
{
	memset(u, 0, sizeof(*u));
	int n = atomic_fetch_add(&user_seq, 1);
	snprintf(u->email, sizeof(u->email), "user%d.%d@example.com", (int)getpid(), n);
	snprintf(u->password, sizeof(u->password), "Pw-%d-%d-correct horse", (int)getpid(), n);
	u->id = user_register(s, u->email, u->password);
	user_login(s, u);
}

void user_free(struct it_user *u)
{
	free(u->access);
	free(u->refresh);
	u->access = u->refresh = NULL;
}

long long note_create(struct server *s, const char *token, const char *json_body)
{
	struct http_resp r;
	api(s, "POST", "/api/v1/notes", token, json_body, &r);
	cr_assert_eq(r.status, 201, "create note %.200s: status %d, body %.300s", json_body,
	             r.status, r.body);
	json_t *id = json_object_get(r.json, "id");
	cr_assert(json_is_integer(id), "create note: no integer id in %.300s", r.body);
	long long out = (long long)json_integer_value(id);
	http_resp_free(&r);
	return out;
}

int note_get(struct server *s, const char *token, long long id, struct http_resp *r)
{
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", id);
	return api(s, "GET", path, token, NULL, r);
}

char *note_embedding_status(struct server *s, const char *token, long long id)
{
	struct http_resp r;
	note_get(s, token, id, &r);
	cr_assert_eq(r.status, 200, "GET note %lld: status %d, body %.300s", id, r.status, r.body);
	const char *st = resp_str(&r, "embedding_status");
	cr_assert(st, "note %lld has no string embedding_status: %.300s", id, r.body);
	char *out = it_strdup(st);
	http_resp_free(&r);
	return out;
}

void note_wait_status(struct server *s, const char *token, long long id, const char *want,
                      int timeout_ms)
{
	double deadline = it_now_ms() + timeout_ms;
	for (;;) {
		char *st = note_embedding_status(s, token, id);
		bool done = strcmp(st, want) == 0;
		if (!done && it_now_ms() > deadline) {
			char *tail = server_log_tail(s);
			cr_fatal("note %lld: embedding_status still \"%s\" after %d ms, expected "
			         "\"%s\"\n%s",
			         id, st, timeout_ms, want, tail);
		}
		free(st);
		if (done)
			return;
		it_sleep_ms(20);
	}
}

static long long count_field(const struct http_resp *r, const char *key)
{
	json_t *v = json_object_get(r->json, key);
	cr_assert(json_is_integer(v) && json_integer_value(v) >= 0,
	          "index status: \"%s\" is not a count: %.300s", key, r->body);
	return (long long)json_integer_value(v);
}

void index_status(struct server *s, const char *token, struct it_index *out)
{
	struct http_resp r;
	api(s, "GET", "/api/v1/index/status", token, NULL, &r);
	cr_assert_eq(r.status, 200, "GET /api/v1/index/status: status %d, body %.300s", r.status,
	             r.body);
	memset(out, 0, sizeof(*out));
	out->pending = count_field(&r, "pending");
	out->ready = count_field(&r, "ready");
	out->failed = count_field(&r, "failed");
	out->stale = count_field(&r, "stale");
	const char *model = resp_str(&r, "model");
	cr_assert(model && *model, "index status: no model: %.300s", r.body);
	snprintf(out->model, sizeof(out->model), "%s", model);
	json_t *dim = json_object_get(r.json, "dim");
	cr_assert(json_is_integer(dim), "index status: no integer dim: %.300s", r.body);
	out->dim = (int)json_integer_value(dim);
	http_resp_free(&r);
}

void index_wait_settled(struct server *s, const char *token, int timeout_ms, struct it_index *out)
{
	double deadline = it_now_ms() + timeout_ms;
	for (;;) {
		index_status(s, token, out);
		if (out->pending == 0)
			return;
		if (it_now_ms() > deadline) {
			char *tail = server_log_tail(s);
			cr_fatal("index: %lld chunks still pending after %d ms (ready %lld, failed "
			         "%lld)\n%s",
			         out->pending, timeout_ms, out->ready, out->failed, tail);
		}
		it_sleep_ms(20);
	}
}

/* ================================================================== */
/* JWT */

char *b64url(const unsigned char *data, size_t n)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = it_alloc(4 * ((n + 2) / 3) + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < n)
			v |= data[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tbl[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = tbl[v & 63];
	}
	out[o] = '\0';
	return out;
}

char *jwt_mint(const char *sub, int64_t iat, int64_t exp)
{
	jwt_t *jwt = NULL;
	if (jwt_new(&jwt) != 0)
		abort();
	if (sub)
		jwt_add_grant(jwt, "sub", sub);
	if (iat)
		jwt_add_grant_int(jwt, "iat", (long)iat);
	if (exp)
		jwt_add_grant_int(jwt, "exp", (long)exp);
	jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)TEST_SECRET_KEY,
	            (int)strlen(TEST_SECRET_KEY));
	char *tok = jwt_encode_str(jwt);
	jwt_free(jwt);
	if (!tok)
		abort();
	char *out = it_strdup(tok);
	free(tok);
	return out;
}

char *jwt_forge(const char *header_json, const char *payload_json, const char *sig_alg,
                const char *key)
{
	char *h = b64url((const unsigned char *)header_json, strlen(header_json));
	char *p = b64url((const unsigned char *)payload_json, strlen(payload_json));
	char *signing = it_asprintf("%s.%s", h, p);
	char *sig = NULL;
	const EVP_MD *md = NULL;
	if (strcmp(sig_alg, "HS256") == 0)
		md = EVP_sha256();
	else if (strcmp(sig_alg, "HS384") == 0)
		md = EVP_sha384();
	else if (strcmp(sig_alg, "HS512") == 0)
		md = EVP_sha512();
	if (md) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;
		HMAC(md, key, (int)strlen(key), (const unsigned char *)signing, strlen(signing),
		     mac, &maclen);
		sig = b64url(mac, maclen);
	} else {
		sig = it_strdup("");
	}
	char *out = it_asprintf("%s.%s", signing, sig);
	free(h);
	free(p);
	free(signing);
	free(sig);
	return out;
}

/* ================================================================== */
/* Raw TCP */

int tcp_connect(const struct server *s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool tcp_send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

size_t tcp_read(int fd, char *buf, size_t cap, int timeout_ms, bool *closed)
{
	size_t len = 0;
	double deadline = it_now_ms() + timeout_ms;
	*closed = false;
	while (len + 1 < cap) {
		int left = (int)(deadline - it_now_ms());
		if (left <= 0)
			break;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			*closed = true;
			break;
		}
		len += (size_t)got;
	}
	buf[len] = '\0';
	return len;
}

int tcp_read_head(int fd, char *buf, size_t cap, int timeout_ms, bool *closed)
{
	size_t n = 0;
	double deadline = it_now_ms() + timeout_ms;
	buf[0] = '\0';
	*closed = false;
	while (!strstr(buf, "\r\n\r\n") && n + 1 < cap) {
		int left = (int)(deadline - it_now_ms());
		if (left <= 0)
			break;
		n += tcp_read(fd, buf + n, cap - n, left < 50 ? left : 50, closed);
		if (*closed)
			break;
	}
	return strncmp(buf, "HTTP/1.", 7) == 0 ? atoi(buf + 9) : 0;
}

bool tcp_wait_closed(int fd, int timeout_ms)
{
	char buf[4096];
	double deadline = it_now_ms() + timeout_ms;
	for (;;) {
		int left = (int)(deadline - it_now_ms());
		if (left <= 0)
			return false;
		bool closed;
		tcp_read(fd, buf, sizeof(buf), left, &closed);
		if (closed)
			return true;
	}
}

/* ================================================================== */
/* CLI */

int cli_run(struct cli_result *r, const char *dir, const char *const *extra_env,
            const char *stdin_data, const char *arg0, ...)
{
	const char *argv[64];
	size_t n = 0;
	va_list ap;
	va_start(ap, arg0);
	for (const char *a = arg0; a && n < 63; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return cli_run_argv(r, CLI_TIMEOUT_MS, dir, extra_env, stdin_data, argv);
}

int cli_run_argv(struct cli_result *r, int timeout_ms, const char *dir,
                 const char *const *extra_env, const char *stdin_data, const char *const *argv)
{
	memset(r, 0, sizeof(*r));
	r->status = -1;
	const char *args[64];
	size_t n = 0;
	args[n++] = vault_bin();
	for (size_t i = 0; argv[i] && n < 63; i++)
		args[n++] = argv[i];
	args[n] = NULL;

	int in[2], out[2], err[2];
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		r->out = it_strdup("");
		r->err = it_asprintf("pipe: %s", strerror(errno));
		return r->status;
	}
	char **env = env_build(dir, extra_env);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (chdir(dir) != 0)
			_exit(127);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execve(args[0], (char *const *)args, env);
		_exit(127);
	}
	env_free(env);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	for (size_t off = 0, len = stdin_data ? strlen(stdin_data) : 0; off < len;) {
		ssize_t w = write(in[1], stdin_data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the program does not read stdin; it will see EOF */
		off += (size_t)w;
	}
	close(in[1]);

	struct buf ob = {0}, eb = {0};
	buf_add(&ob, "", 0);
	buf_add(&eb, "", 0);
	bool out_open = true, err_open = true;
	double deadline = it_now_ms() + timeout_ms;
	bool timed_out = false;
	while (out_open || err_open) {
		int left = (int)(deadline - it_now_ms());
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p[2] = {{.fd = out_open ? out[0] : -1, .events = POLLIN},
		                      {.fd = err_open ? err[0] : -1, .events = POLLIN}};
		if (poll(p, 2, left) < 0 && errno != EINTR)
			break;
		char chunk[4096];
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t got = read(p[i].fd, chunk, sizeof(chunk));
			if (got > 0) {
				buf_add(i == 0 ? &ob : &eb, chunk, (size_t)got);
			} else if (got == 0 || errno != EINTR) {
				if (i == 0)
					out_open = false;
				else
					err_open = false;
			}
		}
	}
	int ws = 0;
	if (timed_out) {
		kill(pid, SIGKILL);
		waitpid(pid, &ws, 0);
		r->status = -1;
	} else {
		/* Output closed; the process is exiting (or daemonized its fds away). */
		double wait_deadline = it_now_ms() + CLI_TIMEOUT_MS;
		pid_t w;
		while ((w = waitpid(pid, &ws, WNOHANG)) == 0 && it_now_ms() < wait_deadline)
			it_sleep_ms(2);
		if (w == pid) {
			r->status = decode_status(ws);
		} else {
			kill(pid, SIGKILL);
			waitpid(pid, &ws, 0);
			r->status = -1;
		}
	}
	close(out[0]);
	close(err[0]);
	r->out = ob.p;
	r->err = eb.p;
	return r->status;
}

void cli_result_free(struct cli_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

bool notes_equal(json_t *a, json_t *b)
{
	json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
	json_object_del(x, "embedding_status");
	json_object_del(y, "embedding_status");
	bool same = json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return same;
}

/* ================================================================== */
/* Other commands as long-running processes */

/* Like spawn(), for `$VAULT_BIN args...`, ready at the first line with event ready. */
static void spawn_cmd(struct server *s, const char *const *args, const char *ready)
{
	const char *argv[16];
	size_t n = 0;
	argv[n++] = vault_bin();
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char **env = env_build(s->dir, (const char *const *)s->extra_env);
	for (size_t i = 0; env[i]; i++)
		if (strncmp(env[i], "DATABASE_URL=", 13) == 0)
			snprintf(s->db_url, sizeof(s->db_url), "%s", env[i] + 13);
	s->log_offset = file_size(s->log_path);
	s->exited = false;
	s->exit_status = -1;
	s->port = 0;
	pid_t parent = getpid();
	s->started_ms = it_now_ms();
	pid_t pid = fork();
	if (pid < 0)
		cr_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || chdir(s->dir) != 0)
			_exit(127);
		int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int nullfd = open("/dev/null", O_RDONLY);
		if (logfd < 0 || nullfd < 0)
			_exit(127);
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	env_free(env);
	s->pid = pid;

	bool serve = strcmp(ready, "server_started") == 0;
	double deadline = it_now_ms() + START_TIMEOUT_MS;
	for (;;) {
		int port = serve ? find_started_port(s) : 0;
		if (port > 0) {
			s->port = port;
			snprintf(s->base_url, sizeof(s->base_url), "http://127.0.0.1:%d", port);
			return;
		}
		if (!serve && run_has_event(s, ready))
			return;
		if (reap(s)) {
			char *tail = server_log_tail(s);
			cr_fatal("%s exited with status %d before reporting %s\n%s", args[0],
			         s->exit_status, ready, tail);
		}
		if (it_now_ms() > deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = 0;
			char *tail = server_log_tail(s);
			cr_fatal("no %s line from %s within %d ms\n%s", ready, args[0],
			         START_TIMEOUT_MS, tail);
		}
		it_sleep_ms(5);
	}
}

void process_start(struct server *s, const char *const *extra_env, const char *const *args,
                   const char *ready)
{
	memset(s, 0, sizeof(*s));
	it_mkdtemp(s->dir, sizeof(s->dir));
	snprintf(s->log_path, sizeof(s->log_path), "%s/server.log", s->dir);
	size_t n = env_len((char *const *)extra_env);
	s->extra_env = calloc(n + 1, sizeof(char *));
	if (!s->extra_env)
		abort();
	for (size_t i = 0; i < n; i++)
		s->extra_env[i] = it_strdup(extra_env[i]);
	spawn_cmd(s, args, ready);
}

void worker_start(struct server *s, const char *const *extra_env)
{
	static const char *const args[] = {"worker", NULL};
	process_start(s, extra_env, args, "worker_started");
}

void worker_stop_ok(struct server *s)
{
	int st = server_stop(s);
	char *tail = server_log_tail(s);
	cr_assert_eq(st, 0, "worker exit status %d after SIGTERM, expected 0\n%s", st, tail);
	cr_assert(!run_has_sanitizer_report(s), "sanitizer report in the worker log\n%s", tail);
	cr_assert(run_has_event(s, "worker_stopped"),
	          "no \"worker_stopped\" event after SIGTERM\n%s", tail);
	free(tail);
}
