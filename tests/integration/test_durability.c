/*
 * test_durability.c - what a power cut, a full disk or a failing disk costs.
 *
 * On SQLite the server runs under tests/crash/crashfs.c (build/crashfs.so,
 * preloaded), which holds every write to the database's files in the
 * process until they are synced: kill -9 then loses what a power cut would,
 * not just what a process crash would (nothing: the kernel keeps its
 * pages). Writers create and update notes while the server is killed; the
 * database must then hold every write that was acknowledged and pass
 * SQLite's integrity checks (build/sqlite_check). The same run against build/vault_sync_normal
 * (the server with SQLite at synchronous=NORMAL) must lose acknowledged
 * writes, which shows the test can fail.
 *
 * The same shim fills the disk (ENOSPC while a flag file exists) or fails
 * it (EIO); on PostgreSQL a trigger raises disk_full (SQLSTATE 53100), as
 * the server would. A full disk answers 507 and a failing one 503 (or 500),
 * saying nothing of the internals; reads go on, the embedding worker backs
 * off without embedding anything twice, and all is well once the disk is
 * back.
 */
#include "integration/harness.h"

#include <libgen.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "common/fake_openai.h"

static struct server srv;
static struct it_user me;
static struct fake_openai *fake;

static void cleanup(void)
{
	user_free(&me);
	server_cleanup(&srv);
	fake_openai_stop(fake);
	fake = NULL;
}

TestSuite(durability, .fini = cleanup, .timeout = 180);

/* ------------------------------------------------------------------ */
/* The shim */

/* The flag files, relative to the server's directory (its cwd). */
#define FULL_FLAG "disk-full"
#define EIO_FLAG  "disk-failing"

/* build/<name> beside $VAULT_BIN: the shim and the other helpers; caller frees. */
static char *beside_vault(const char *name)
{
	char *copy = it_strdup(vault_bin());
	char *path = it_asprintf("%s/%s", dirname(copy), name);
	free(copy);
	cr_assert(access(path, F_OK) == 0, "%s not found: build it with make integration", path);
	return path;
}

/*
 * The extra environment of a server under the shim, and more (NULL-terminated,
 * up to 10). ASan wants its runtime first among the loaded libraries; the
 * shim comes first instead, in front of its interceptors.
 */
struct crash_env {
	char *kv[2];
	const char *env[16];
};

static void crash_env_init(struct crash_env *c, const char *const *more)
{
	char *shim = beside_vault("crashfs.so");
	const char *asan = getenv("ASAN_OPTIONS");
	c->kv[0] = it_asprintf("LD_PRELOAD=%s", shim);
	c->kv[1] = it_asprintf("ASAN_OPTIONS=%s%sverify_asan_link_order=0", asan ? asan : "",
	                       asan && *asan ? ":" : "");
	free(shim);
	size_t n = 0;
	c->env[n++] = c->kv[0];
	c->env[n++] = c->kv[1];
	c->env[n++] = "CRASHFS_DIR=.";
	c->env[n++] = "CRASHFS_FULL=" FULL_FLAG;
	c->env[n++] = "CRASHFS_EIO=" EIO_FLAG;
	for (size_t i = 0; more && more[i] && n < 15; i++)
		c->env[n++] = more[i];
	c->env[n] = NULL;
}

static void crash_env_free(struct crash_env *c)
{
	free(c->kv[0]);
	free(c->kv[1]);
}

/* Creates or removes a flag file in the server's directory. */
static void flag(const struct server *s, const char *name, bool on)
{
	char *path = it_asprintf("%s/%s", s->dir, name);
	if (on) {
		FILE *f = fopen(path, "w");
		cr_assert(f, "cannot create %s", path);
		fclose(f);
	} else {
		cr_assert_eq(unlink(path), 0, "cannot remove %s", path);
	}
	free(path);
}

/* Lines of the server's log (all runs) holding needle. */
static int log_count(const struct server *s, const char *needle)
{
	char *log = server_log(s);
	int n = 0;
	for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

/*
 * SQLite's own checks of the stopped server's database, by build/sqlite_check
 * (every b-tree and index, and each FTS5 index against its rows).
 */
static void expect_database_intact(const struct server *s)
{
	char *check = beside_vault("sqlite_check");
	char *cmd = it_asprintf("'%s' '%s/vault.db' 2>&1", check, s->dir);
	FILE *p = popen(cmd, "r");
	cr_assert(p, "cannot run %s", cmd);
	char out[4096];
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	cr_assert(st == 0 && strcmp(out, "ok\n") == 0, "the database is damaged:\n%s", out);
	free(cmd);
	free(check);
}

/* ------------------------------------------------------------------ */
/* Writers: creates and updates until the server goes away */

#define MAX_NOTES 8192
#define THREADS   8

struct tracked {
	long long id;
	char acked[48]; /* the title last acknowledged */
	char sent[48];  /* a title sent but not acknowledged ("" if none): it may or may not land */
};

struct load {
	const char *base_url;
	const char *token;
	pthread_mutex_t lock;
	struct tracked notes[MAX_NOTES];
	int nnotes;
	atomic_int acks; /* 201 creates and 200 updates */
	atomic_int updates;
	atomic_int n500; /* 5xx other than 503 */
	atomic_bool stop;
};

struct writer_arg {
	struct load *l;
	int index;
};

/* The content that goes with a title: a few hundred bytes, so commits span pages. */
static char *content_of(const char *title)
{
	char *unit = it_asprintf("%s lorem ipsum dolor sit amet. ", title);
	char *c = it_repeat(unit, 12);
	free(unit);
	return c;
}

/* One request; false once the server is gone. */
static bool send_note(struct load *l, const char *method, const char *path, const char *title,
                      struct http_resp *r)
{
	char *content = content_of(title);
	char *body = it_jpack("{s:s, s:s}", "title", title, "content", content);
	struct http_req q = {.method = method,
	                     .path = path,
	                     .token = l->token,
	                     .body = body,
	                     .body_len = strlen(body),
	                     .timeout_ms = 15000};
	int rc = http_do(l->base_url, &q, r);
	free(body);
	free(content);
	if (rc == 0 && r->status >= 500 && r->status != 503)
		atomic_fetch_add(&l->n500, 1);
	return rc == 0;
}

static void *writer(void *p)
{
	struct writer_arg *a = p;
	struct load *l = a->l;
	int mine[MAX_NOTES / THREADS], nmine = 0;
	for (int i = 0; !atomic_load(&l->stop); i++) {
		char title[48];
		struct http_resp r;
		snprintf(title, sizeof(title), "w%d-%d", a->index, i);
		if (i % 3 == 2 && nmine > 0) { /* update one of this thread's notes */
			struct tracked *t = &l->notes[mine[i % nmine]];
			char path[64];
			snprintf(path, sizeof(path), "/api/v1/notes/%lld", t->id);
			pthread_mutex_lock(&l->lock);
			snprintf(t->sent, sizeof(t->sent), "%s", title);
			pthread_mutex_unlock(&l->lock);
			if (!send_note(l, "PUT", path, title, &r)) {
				http_resp_free(&r);
				break;
			}
			/* Answered: it happened (200) or not (an error); no longer in flight. */
			pthread_mutex_lock(&l->lock);
			if (r.status == 200)
				snprintf(t->acked, sizeof(t->acked), "%s", title);
			t->sent[0] = '\0';
			pthread_mutex_unlock(&l->lock);
			if (r.status == 200) {
				atomic_fetch_add(&l->acks, 1);
				atomic_fetch_add(&l->updates, 1);
			}
		} else {
			if (!send_note(l, "POST", "/api/v1/notes", title, &r)) {
				http_resp_free(&r);
				break;
			}
			json_t *id = json_object_get(r.json, "id");
			if (r.status == 201 && json_is_integer(id) && nmine < MAX_NOTES / THREADS) {
				pthread_mutex_lock(&l->lock);
				int k = l->nnotes++;
				l->notes[k].id = (long long)json_integer_value(id);
				snprintf(l->notes[k].acked, sizeof(l->notes[k].acked), "%s", title);
				pthread_mutex_unlock(&l->lock);
				mine[nmine++] = k;
				atomic_fetch_add(&l->acks, 1);
			}
		}
		http_resp_free(&r);
	}
	return NULL;
}

/*
 * Writers against s until at least min_acks writes were acknowledged, then
 * kill -9 with requests in flight; *l holds what was acknowledged.
 */
static void write_then_kill(struct server *s, const char *token, struct load *l, int min_acks)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	l->base_url = s->base_url;
	l->token = token;
	struct writer_arg args[THREADS];
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct writer_arg){.l = l, .index = i};
		pthread_create(&th[i], NULL, writer, &args[i]);
	}
	double deadline = it_now_ms() + 60000;
	while (atomic_load(&l->acks) < min_acks && it_now_ms() < deadline)
		it_sleep_ms(1);
	server_kill9(s);
	atomic_store(&l->stop, true);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&l->lock);
	cr_assert(atomic_load(&l->acks) >= min_acks, "only %d writes acknowledged in 60 s",
	          atomic_load(&l->acks));
	cr_assert_eq(atomic_load(&l->n500), 0, "%d writes answered 5xx other than 503",
	             atomic_load(&l->n500));
}

/*
 * The notes whose acknowledged writes the restarted server lost: not there,
 * or not at their last acknowledged title (or the one in flight), or with
 * content not of their title.
 */
static int count_lost(struct server *s, const char *token, const struct load *l)
{
	json_t *seen = json_object();
	for (int skip = 0;; skip += 100) {
		char path[96];
		struct http_resp r;
		snprintf(path, sizeof(path), "/api/v1/notes?limit=100&skip=%d", skip);
		int st = api(s, "GET", path, token, NULL, &r);
		if (st == 401) { /* the account itself is gone, and every note with it */
			cr_log_info("the writers' account was lost");
			http_resp_free(&r);
			break;
		}
		cr_assert_eq(st, 200, "%s: %s", path, r.body);
		json_t *items = json_object_get(r.json, "items"), *it;
		size_t i;
		json_array_foreach(items, i, it)
		{
			char key[32];
			snprintf(key, sizeof(key), "%lld",
			         (long long)json_integer_value(json_object_get(it, "id")));
			json_object_set(seen, key, it);
		}
		size_t n = json_array_size(items);
		http_resp_free(&r);
		if (n < 100)
			break;
	}
	int lost = 0;
	for (int k = 0; k < l->nnotes; k++) {
		const struct tracked *t = &l->notes[k];
		char key[32];
		snprintf(key, sizeof(key), "%lld", t->id);
		json_t *note = json_object_get(seen, key);
		const char *title = json_string_value(json_object_get(note, "title"));
		const char *content = json_string_value(json_object_get(note, "content"));
		char *want = title ? content_of(title) : NULL;
		bool ok =
		    title && content && strcmp(content, want) == 0 &&
		    (strcmp(title, t->acked) == 0 || (t->sent[0] && strcmp(title, t->sent) == 0));
		if (!ok && lost++ < 5)
			cr_log_info("note %lld: acknowledged \"%s\", found %s%s%s", t->id, t->acked,
			            title ? "\"" : "", title ? title : "nothing",
			            title ? "\"" : "");
		free(want);
	}
	json_decref(seen);
	return lost;
}

/* After a kill: the server again, as it normally runs, on the same database. */
static void restart_plain(struct server *s)
{
	s->bin = NULL;
	server_setenv(s, "LD_PRELOAD");
	server_restart(s);
}

static struct load load; /* big: not on a test's stack */

Test(durability, kill9_under_power_cut_loses_no_acknowledged_write)
{
	if (it_pg())
		cr_skip_test(
		    "PostgreSQL syncs its own WAL; scale/postgres_restart covers a restart");
	struct crash_env env;
	crash_env_init(&env, NULL);
	server_start(&srv, env.env);
	user_new(&srv, &me);
	write_then_kill(&srv, me.access, &load, 400);
	cr_assert(atomic_load(&load.updates) > 0, "no update was acknowledged");
	char *tail = server_log_tail(&srv);
	char *wal = it_asprintf("crashfs: holding writes to %s/vault.db-wal", srv.dir);
	cr_assert_eq(log_count(&srv, wal), 1, "the shim did not hold the WAL\n%s", tail);
	cr_assert_eq(log_count(&srv, "crashfs: refused to map"), 0,
	             "the server maps its database into memory\n%s", tail);
	free(wal);
	free(tail);

	restart_plain(&srv);
	int lost = count_lost(&srv, me.access, &load);
	cr_assert_eq(lost, 0, "a power cut lost acknowledged writes to %d of %d notes", lost,
	             load.nnotes);
	cr_log_info(
	    "kill -9 under the shim: all %d acknowledged writes (%d notes, %d updates) kept",
	    atomic_load(&load.acks), load.nnotes, atomic_load(&load.updates));
	server_stop_ok(&srv);
	expect_database_intact(&srv);
	crash_env_free(&env);
}

Test(durability, the_crash_test_catches_a_server_that_does_not_sync)
{
	if (it_pg())
		cr_skip_test("SQLite's synchronous setting");
	char *normal = beside_vault("vault_sync_normal");
	struct crash_env env;
	crash_env_init(&env, NULL);
	/*
	 * NORMAL syncs the WAL only at checkpoints (every 1000 pages), so a kill
	 * loses the writes since the last one, unless it came just after a
	 * checkpoint: a few tries make that chance negligible.
	 */
	int lost = 0;
	for (int round = 1; round <= 3 && lost == 0; round++) {
		server_start_bin(&srv, normal, env.env);
		user_new(&srv, &me);
		write_then_kill(&srv, me.access, &load, 400);
		restart_plain(&srv);
		lost = count_lost(&srv, me.access, &load);
		cr_log_info("synchronous=NORMAL, round %d: acknowledged writes to %d of %d notes "
		            "lost (%d writes acknowledged)",
		            round, lost, load.nnotes, atomic_load(&load.acks));
		server_stop_ok(&srv);
		/* Not durable, but still consistent. */
		expect_database_intact(&srv);
		user_free(&me);
		server_cleanup(&srv);
	}
	cr_assert(lost > 0, "the crash test did not notice a server running at synchronous=NORMAL");
	crash_env_free(&env);
	free(normal);
}

/* ------------------------------------------------------------------ */
/* A full disk */

/* PostgreSQL: disk_full on every row written to notes and chunks, as the server raises it. */
static void pg_disk_full(const struct server *s, bool on)
{
	PGconn *pg = PQconnectdb(s->db_url);
	const char *sql =
	    on ? "CREATE FUNCTION it_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
	         "RAISE EXCEPTION 'could not extend file: No space left on device' "
	         "USING ERRCODE = 'disk_full'; END $$; "
	         "CREATE TRIGGER it_full BEFORE INSERT OR UPDATE ON notes "
	         "FOR EACH ROW EXECUTE FUNCTION it_disk_full(); "
	         "CREATE TRIGGER it_full BEFORE INSERT OR UPDATE ON chunks "
	         "FOR EACH ROW EXECUTE FUNCTION it_disk_full()"
	       : "SET client_min_messages = warning; DROP FUNCTION it_disk_full() CASCADE";
	PGresult *r = PQexec(pg, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(pg));
	PQclear(r);
	PQfinish(pg);
}

static void disk_full(const struct server *s, bool on)
{
	if (it_pg())
		pg_disk_full(s, on);
	else
		flag(s, FULL_FLAG, on);
}

static long long add_note(const char *title, const char *content)
{
	char *body = it_jpack("{s:s, s:s}", "title", title, "content", content);
	long long id = note_create(&srv, me.access, body);
	free(body);
	return id;
}

static void expect_note(long long id, const char *title)
{
	struct http_resp r;
	cr_assert_eq(note_get(&srv, me.access, id, &r), 200, "GET note %lld: %d %s", id, r.status,
	             r.body);
	cr_assert_str_eq(resp_str(&r, "title"), title);
	http_resp_free(&r);
}

Test(durability, full_disk_answers_507_backs_off_and_recovers)
{
	const char *url = fake_openai_start(&fake);
	cr_assert(url, "the fake OpenAI server did not start");
	fake_openai_set_dim(fake, 32);
	char *base = it_asprintf("OPENAI_BASE_URL=%s", url);
	const char *more[] = {"EMBEDDING_PROVIDER=openai",
	                      "EMBEDDING_MODEL=fake-embed",
	                      "EMBEDDING_DIM=32",
	                      "OPENAI_API_KEY=sk-test-key-1234",
	                      "AI_MAX_RETRIES=0",
	                      base,
	                      NULL};
	struct crash_env env;
	crash_env_init(&env, more);
	server_start(&srv, it_pg() ? more : env.env);
	user_new(&srv, &me);

	long long a = add_note("alpha", "Embedded before the disk filled.");
	note_wait_status(&srv, me.access, a, "ready", EMBED_TIMEOUT_MS);
	/* b's vectors arrive once the disk is full; c waits behind it in the queue. */
	fake_openai_set_delay_ms(fake, 2500);
	fake_openai_set_endpoint_mode(fake, FAKE_EP_EMBEDDINGS, FAKE_SLOW, 1);
	long long b = add_note("bravo", "Embedding while the disk fills.");
	double deadline = it_now_ms() + 5000;
	while (fake_openai_requests(fake, FAKE_EP_EMBEDDINGS) < 2 && it_now_ms() < deadline)
		it_sleep_ms(2);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 2, "b was not sent to embed");
	long long c = add_note("charlie", "Queued while the disk fills.");
	int errors_before = log_count(&srv, "\"embed_worker_error\"");
	disk_full(&srv, true);
	double full_at = it_now_ms();

	/* Writes: 507 with a clear detail; nothing half-done. */
	struct http_resp r;
	cr_assert_eq(api(&srv, "POST", "/api/v1/notes", me.access,
	                 "{\"title\":\"delta\",\"content\":\"Not saved.\"}", &r),
	             507, "create on a full disk: %d %s", r.status, r.body);
	assert_error_body(&r, "create on a full disk");
	cr_assert_str_eq(resp_str(&r, "detail"), "Storage is full: the change was not saved");
	http_resp_free(&r);
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", a);
	cr_assert_eq(api(&srv, "PUT", path, me.access, "{\"title\":\"alpha 2\"}", &r), 507,
	             "update on a full disk: %d %s", r.status, r.body);
	http_resp_free(&r);

	/* Reads go on. */
	expect_note(a, "alpha");
	expect_note(b, "bravo");
	cr_assert_eq(api(&srv, "GET", "/api/v1/notes", me.access, NULL, &r), 200);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 3, "%s", r.body);
	http_resp_free(&r);
	cr_assert_eq(
	    api(&srv, "GET", "/api/v1/search?query=charlie&mode=keyword", me.access, NULL, &r), 200,
	    "keyword search on a full disk: %d %s", r.status, r.body);
	cr_assert(strstr(r.body, "charlie"), "%s", r.body);
	http_resp_free(&r);

	/* The worker: b's vectors could not be stored; it backs off (1, 2, 4 s)
	 * instead of retrying or claiming c every poll. */
	while (it_now_ms() - full_at < 6000)
		it_sleep_ms(50);
	int errors = log_count(&srv, "\"embed_worker_error\"") - errors_before;
	char *tail = server_log_tail(&srv);
	cr_assert(errors >= 1 && errors <= 4,
	          "%d worker errors in 6 s of a full disk (want 1-4: a backoff)\n%s", errors, tail);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 2,
	             "texts sent to embed while the disk was full\n%s", tail);
	free(tail);

	/* Space again: writes work, b's vectors kept in memory are stored (its
	 * lease would hold it for minutes otherwise), c is embedded. */
	disk_full(&srv, false);
	long long d = add_note("delta", "Saved once there is room.");
	note_wait_status(&srv, me.access, b, "ready", EMBED_TIMEOUT_MS);
	note_wait_status(&srv, me.access, c, "ready", EMBED_TIMEOUT_MS);
	note_wait_status(&srv, me.access, d, "ready", EMBED_TIMEOUT_MS);
	cr_assert(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS) <= 4,
	          "%d embedding requests for 4 notes: b was embedded again",
	          fake_openai_requests(fake, FAKE_EP_EMBEDDINGS));
	expect_note(a, "alpha");
	expect_note(b, "bravo");
	expect_note(c, "charlie");
	server_stop_ok(&srv);
	if (!it_pg())
		expect_database_intact(&srv);
	crash_env_free(&env);
	free(base);
}

/* ------------------------------------------------------------------ */
/* A failing disk */

Test(durability, disk_io_error_fails_requests_and_the_server_lives_on)
{
	if (it_pg())
		cr_skip_test("the crash shim fails SQLite's files");
	struct crash_env env;
	crash_env_init(&env, NULL);
	server_start(&srv, env.env);
	user_new(&srv, &me);
	long long a = add_note("alpha", "Written before the disk failed.");

	flag(&srv, EIO_FLAG, true);
	/*
	 * A write fails as SQLITE_IOERR (503); a read that needs the disk fails
	 * too, and SQLite reports EIO on a read as a corrupt file system (500).
	 * Either way the client learns nothing of the internals. A read may
	 * also come from SQLite's page cache and succeed.
	 */
	struct http_resp r;
	int st = api(&srv, "POST", "/api/v1/notes", me.access,
	             "{\"title\":\"bravo\",\"content\":\"Not saved.\"}", &r);
	cr_assert(st == 503 || st == 500, "create on a failing disk: %d %s", st, r.body);
	assert_error_body(&r, "create on a failing disk");
	cr_assert_str_eq(resp_str(&r, "detail"),
	                 st == 503 ? "Service unavailable" : "Internal server error");
	http_resp_free(&r);
	st = note_get(&srv, me.access, a, &r);
	cr_assert(st == 200 || st == 503 || st == 500, "GET on a failing disk: %d %s", st, r.body);
	if (st != 200)
		cr_assert_str_eq(resp_str(&r, "detail"),
		                 st == 503 ? "Service unavailable" : "Internal server error");
	http_resp_free(&r);
	cr_assert_eq(http(&srv, "GET", "/health", NULL, NULL, &r), 200);
	http_resp_free(&r);

	flag(&srv, EIO_FLAG, false);
	long long b = add_note("bravo", "Saved once the disk is back.");
	expect_note(a, "alpha");
	expect_note(b, "bravo");
	server_stop_ok(&srv);
	expect_database_intact(&srv);
	crash_env_free(&env);
}
