/*
 * harness.h - drives the real vault binary for the integration tests.
 *
 * Each test starts its own server: a fresh temporary directory (the cwd, so
 * no .env is picked up, and the home of the SQLite database), a clean
 * environment, PORT=0, and the port read back from the "server_started" log
 * line (JSON, or LOG_FORMAT=console when a test asks for it). Requests go
 * over real HTTP with libcurl; raw TCP helpers cover what curl cannot send
 * (announced-but-unsent bodies, idle connections). The CLI runner executes
 * the same binary with its own arguments, env and stdin.
 *
 * Criterion ignores assertions made in .fini, so a test stops its server
 * itself (server_stop_ok) and .fini only cleans up (server_cleanup).
 * Functions that assert must run on the test's main thread; http_do,
 * cli_run and the tcp_* helpers never assert and are safe from any thread.
 */
#ifndef VAULT_TESTS_INTEGRATION_HARNESS_H
#define VAULT_TESTS_INTEGRATION_HARNESS_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef cr_fatal
#define cr_fatal(...) cr_assert_fail(__VA_ARGS__)
#endif

/* The SECRET_KEY every test server runs with (64 characters). */
#define TEST_SECRET_KEY "it-secret-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"

/* Wall-clock limits; generous for sanitizer builds, never reached when all is well. */
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS  10000
#define HTTP_TIMEOUT_MS  20000
#define CLI_TIMEOUT_MS   20000
/* How long a test waits for the embedding worker to settle. */
#define EMBED_TIMEOUT_MS 20000
/*
 * A suite's hang guard (Criterion's .timeout, in seconds). ThreadSanitizer
 * builds run vault 5-15 times slower: the 1 MiB notes of the web suite took
 * 55 s of its 60 on a busy machine.
 */
#ifdef __SANITIZE_THREAD__
#define IT_TIMEOUT(seconds) ((seconds)*4)
#else
#define IT_TIMEOUT(seconds) (seconds)
#endif

/* ------------------------------------------------------------------ */
/* Small utilities (abort on out-of-memory). */

char *it_strdup(const char *s);
char *it_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A string of n copies of unit (e.g. "é"); caller frees. */
char *it_repeat(const char *unit, size_t n);
/* Monotonic milliseconds. */
double it_now_ms(void);
/* Wall-clock seconds since the epoch. */
int64_t it_time(void);
/* Wall-clock milliseconds since the epoch. */
int64_t it_wall_ms(void);
/* Sleeps ms milliseconds; only for polling loops and clock-tick gaps. */
void it_sleep_ms(double ms);
/* Whether haystack contains needle (case-insensitive when nocase). */
bool it_contains(const char *haystack, const char *needle, bool nocase);
/* Whether s is ISO 8601 UTC with milliseconds: 2026-11-24T22:09:04.123Z. */
bool it_is_iso_ms(const char *s);
/* Parses it_is_iso_ms() text into epoch milliseconds; -1 if malformed. */
int64_t it_parse_iso_ms(const char *s);
/* Serializes a json_pack() result compactly and releases it; caller frees. */
char *it_jpack(const char *fmt, ...);
/* Percent-encodes s for a query string (RFC 3986 unreserved kept); caller frees. */
char *it_urlencode(const char *s);
/* Number of UTF-8 code points in s. */
size_t it_utf8_len(const char *s);

/* ------------------------------------------------------------------ */
/* Server process. */

struct server {
	pid_t pid; /* 0 when not running */
	int port;
	char dir[256];      /* temporary directory: cwd and database */
	char log_path[320]; /* stdout + stderr of every run, appended */
	char db_url[512];   /* it_database_url(dir) */
	char base_url[64];  /* http://127.0.0.1:<port> */
	char **extra_env;   /* copy of the overrides, reused by server_restart */
	long log_offset;    /* where the current run's output starts */
	double started_ms;  /* it_now_ms() when the current run was spawned */
	bool exited;        /* the last run has been reaped */
	int exit_status;    /* its exit code, or 128 + signal */
	const char *bin;    /* the program spawned instead of vault_bin() when set */
};

/* Absolute path of $VAULT_BIN (default build/vault); asserts it exists. */
const char *vault_bin(void);

/*
 * The backend under test: PostgreSQL when VAULT_TEST_PG_URL is set (each
 * test directory then gets its own schema on that server, dropped by
 * it_rmtree), else SQLite in a file of the directory.
 */
bool it_pg(void);
/* DATABASE_URL for a run in dir (the schema is made if missing); caller frees. */
char *it_database_url(const char *dir);

/*
 * Blocks every note write of s's database until it_db_unlock: an exclusive
 * transaction on SQLite, a lock on the notes table on PostgreSQL (a write
 * then waits out DB_STATEMENT_TIMEOUT_SECONDS).
 */
struct it_db_lock *it_db_lock(const struct server *s);
void it_db_unlock(struct it_db_lock *l);

/*
 * The environment a server or CLI run gets for directory dir: PATH, HOST,
 * PORT=0, DATABASE_URL, SECRET_KEY, BCRYPT_ROUNDS=4, LOG_FORMAT=json,
 * LOG_LEVEL=info, ENVIRONMENT=development, EMBEDDING_MODEL_DIR (absolute:
 * the tests' own, else the default under the current directory), ASAN/UBSAN
 * options if set, then
 * extra ("KEY=VALUE" replaces or adds; a bare "KEY" removes). NULL-terminated;
 * caller frees with env_free().
 */
char **env_build(const char *dir, const char *const *extra);
void env_free(char **env);

/* Makes a fresh temporary directory into buf (>= 64 bytes); asserts. */
void it_mkdtemp(char *buf, size_t size);
/* Removes a directory tree (unless VAULT_IT_KEEP is set). */
void it_rmtree(const char *dir);

/*
 * Starts `$VAULT_BIN serve` in a fresh temporary directory with env_build()
 * plus extra_env (NULL-terminated, may be NULL) and waits for its
 * "server_started" line. Fails the test with the log tail if the process
 * exits or does not report a port within START_TIMEOUT_MS.
 */
void server_start(struct server *s, const char *const *extra_env);

/* server_start() of another build of the server (s->bin = bin; NULL: vault_bin()). */
void server_start_bin(struct server *s, const char *bin, const char *const *extra_env);

/* Starts the server again on the same directory (database) and env, with s->bin. */
void server_restart(struct server *s);

/*
 * Changes the server's extra env for its next server_restart() (and for CLI
 * runs that pass s->extra_env): "KEY=VALUE" replaces or adds, a bare "KEY"
 * removes.
 */
void server_setenv(struct server *s, const char *kv);

/*
 * SIGTERM, then waits up to STOP_TIMEOUT_MS; on timeout SIGKILLs and fails.
 * Returns the exit code (128 + signal if killed by one).
 */
int server_stop(struct server *s);

/* server_stop() and asserts exit status 0, a "server_stopped" line and no sanitizer report. */
void server_stop_ok(struct server *s);

/* Sends sig (e.g. SIGINT) without waiting. */
void server_signal(struct server *s, int sig);

/* Waits up to timeout_ms for the process to exit; returns its status or -1 on timeout. */
int server_wait(struct server *s, int timeout_ms);

/* SIGKILL and reap. */
void server_kill9(struct server *s);

/* Kills a still-running server and removes its directory; for .fini. Accepts a zeroed struct. */
void server_cleanup(struct server *s);

/* Everything the server wrote so far (all runs); caller frees. */
char *server_log(const struct server *s);

/* The last ~3000 bytes of the log, for failure messages; caller frees. */
char *server_log_tail(const struct server *s);

/* Number of sockets the server process holds open (listening + connections). */
int server_socket_count(const struct server *s);

/* ------------------------------------------------------------------ */
/* HTTP. */

struct http_header {
	char *name;
	char *value;
};

struct http_resp {
	int status;   /* 0 when the transfer failed */
	int curl_err; /* CURLcode */
	char *body;   /* NUL-terminated; body_len bytes */
	size_t body_len;
	json_t *json; /* parsed body, NULL if not JSON */
	struct http_header *headers;
	size_t nheaders;
	double elapsed_ms;
};

struct http_req {
	const char *method;
	const char *path;
	const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
	const char *token;          /* adds Authorization: Bearer <token> */
	const char *body;           /* NULL: none; else body_len bytes */
	size_t body_len;
	long timeout_ms; /* 0: HTTP_TIMEOUT_MS */
};

/*
 * Performs one request on a new connection. A body gets Content-Type:
 * application/json unless q->headers has a Content-Type line ("Content-Type:"
 * with no value sends none). Never asserts; returns the CURLcode (0 = done).
 */
int http_do(const char *base_url, const struct http_req *q, struct http_resp *r);

/*
 * The usual request: a NUL-terminated body (or NULL), an optional token.
 * Fails the test if the transfer fails (a hang or a dropped connection).
 * Returns the status.
 */
int http(struct server *s, const char *method, const char *path, const char *const *headers,
         const char *body, struct http_resp *r);
int api(struct server *s, const char *method, const char *path, const char *token, const char *body,
        struct http_resp *r);
/* http_do() with the same failure handling as http(). */
int http_req(struct server *s, const struct http_req *q, struct http_resp *r);

void http_resp_free(struct http_resp *r);

/* First value of header name (case-insensitive), or NULL. */
const char *http_header(const struct http_resp *r, const char *name);

/*
 * Whether any header named name holds token in its comma-separated list
 * (both compared case-insensitively, white space trimmed).
 */
bool http_header_has_token(const struct http_resp *r, const char *name, const char *token);

/* The response's JSON string field, or NULL. */
const char *resp_str(const struct http_resp *r, const char *key);

/* Asserts the response is a JSON error: {"detail": "<string>"} with Content-Type application/json.
 */
void assert_error_body(const struct http_resp *r, const char *what);

/* ------------------------------------------------------------------ */
/* Users, tokens and notes. */

struct it_user {
	char email[160];
	char password[96];
	long long id;
	char *access;
	char *refresh;
};

/* Registers (201) and logs in (200) a fresh user with a unique e-mail. */
void user_new(struct server *s, struct it_user *u);
/* Registers email/password; asserts 201 and returns the id. */
long long user_register(struct server *s, const char *email, const char *password);
/* Logs u in again (a new token family); replaces u->access and u->refresh. */
void user_login(struct server *s, struct it_user *u);
void user_free(struct it_user *u);

/* POST /api/v1/notes with a JSON body; asserts 201 and returns the id. */
long long note_create(struct server *s, const char *token, const char *json_body);
/* GET /api/v1/notes/{id}; returns the status and fills r. */
int note_get(struct server *s, const char *token, long long id, struct http_resp *r);

/* A note's embedding_status ("pending", "ready", "failed"); asserts 200. Caller frees. */
char *note_embedding_status(struct server *s, const char *token, long long id);

/*
 * Polls GET /api/v1/notes/{id} until its embedding_status is want; fails the
 * test with the last status and the log tail after timeout_ms.
 */
void note_wait_status(struct server *s, const char *token, long long id, const char *want,
                      int timeout_ms);

/* GET /api/v1/index/status of one user. */
struct it_index {
	long long pending, ready, failed, stale;
	char model[128];
	int dim;
};

/* Fills out from GET /api/v1/index/status; asserts 200 and the shape of the answer. */
void index_status(struct server *s, const char *token, struct it_index *out);

/*
 * Polls the index status until nothing is pending (the worker has taken
 * every chunk of the user to ready or failed); fails after timeout_ms.
 */
void index_wait_settled(struct server *s, const char *token, int timeout_ms, struct it_index *out);

/*
 * An HS256 JWT signed with TEST_SECRET_KEY via libjwt, with sub as a string
 * (NULL: no sub), iat and exp (0: left out). Caller frees.
 */
char *jwt_mint(const char *sub, int64_t iat, int64_t exp);

/*
 * A token assembled by hand: base64url(header_json).base64url(payload_json).
 * signature, where the signature is HMAC over the first two parts with key
 * using "HS256", "HS384" or "HS512", or empty for "none". Caller frees.
 */
char *jwt_forge(const char *header_json, const char *payload_json, const char *sig_alg,
                const char *key);

/* base64url without padding; caller frees. */
char *b64url(const unsigned char *data, size_t n);

/* ------------------------------------------------------------------ */
/* Raw TCP. */

/* A blocking connection to the server, or -1. */
int tcp_connect(const struct server *s);
/* Sends all of buf (ignores EPIPE/ECONNRESET); returns false if the peer went away. */
bool tcp_send_all(int fd, const void *buf, size_t n);
/*
 * Reads until the peer closes, timeout_ms passes or cap bytes arrived.
 * Returns bytes read into buf (NUL-terminated); *closed says whether EOF or
 * a reset was seen.
 */
size_t tcp_read(int fd, char *buf, size_t cap, int timeout_ms, bool *closed);
/*
 * Reads until a whole response head ("\r\n\r\n") is in, the peer closes or
 * timeout_ms passes. Returns the status code of the head, 0 if none arrived.
 */
int tcp_read_head(int fd, char *buf, size_t cap, int timeout_ms, bool *closed);
/* Waits for the peer to close (EOF or reset) without sending anything; false on timeout. */
bool tcp_wait_closed(int fd, int timeout_ms);

/* ------------------------------------------------------------------ */
/* CLI. */

struct cli_result {
	int status; /* exit code, 128 + signal, or -1 if it timed out and was killed */
	char *out;
	char *err;
};

/*
 * Runs `$VAULT_BIN args...` (NULL-terminated) with cwd dir and env_build(dir,
 * extra_env), feeding stdin_data (NULL: empty stdin). Never asserts; returns
 * r->status. Caller frees with cli_result_free().
 */
int cli_run(struct cli_result *r, const char *dir, const char *const *extra_env,
            const char *stdin_data, const char *arg0, ...) __attribute__((sentinel));
/* The same with an argv array (NULL-terminated, without the program) and a time limit. */
int cli_run_argv(struct cli_result *r, int timeout_ms, const char *dir,
                 const char *const *extra_env, const char *stdin_data, const char *const *argv);
void cli_result_free(struct cli_result *r);

#endif

/* Whether two notes' JSON are equal apart from embedding_status, which the
 * background worker may change at any moment. */
bool notes_equal(json_t *a, json_t *b);

/*
 * Starts `$VAULT_BIN args...` (args NULL-terminated, e.g. {"worker", NULL}
 * or {"serve", "--no-worker", NULL}) in a fresh temporary directory with
 * env_build() plus extra_env, like server_start(), and waits for its log
 * line with event ready ("server_started" also reads the port). s->db_url
 * is the DATABASE_URL the process got, so "DATABASE_URL=<another's db_url>"
 * in extra_env shares that database. server_stop(), server_log() and
 * server_cleanup() work on it; server_restart() would run `serve`.
 */
void process_start(struct server *s, const char *const *extra_env, const char *const *args,
                   const char *ready);

/* process_start() of `vault worker`, ready at "worker_started". */
void worker_start(struct server *s, const char *const *extra_env);

/* server_stop() of a worker; asserts exit 0, "worker_stopped" and no sanitizer report. */
void worker_stop_ok(struct server *s);
