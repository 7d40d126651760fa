/*
 * test_search.c - GET and POST /api/v1/search through the real server: the
 * three modes, validation, the shape of results (similarity, score,
 * excerpt), the exact-title lift, tag filters applied before top_k, the
 * similarity floor, isolation between users, keyword search while the
 * embedding provider is down, and `vault search` on the same database.
 *
 * The local embedder (the default) serves every test but the outage one,
 * which points EMBEDDING_PROVIDER=openai at the fake in tests/common.
 */
#include "integration/harness.h"

#include "common/fake_openai.h"

#include <string.h>

static struct server srv;
static struct it_user me, other;
static struct fake_openai *fake;

static void cleanup(void)
{
	user_free(&me);
	user_free(&other);
	server_cleanup(&srv);
	fake_openai_stop(fake);
	fake = NULL;
}

TestSuite(search, .fini = cleanup, .timeout = IT_TIMEOUT(90));

/* ------------------------------------------------------------------ */
/* Helpers */

/* Creates a note with comma-separated tags (NULL: none) for token; returns its id. */
static long long add(const char *token, const char *title, const char *content, const char *tags)
{
	json_t *t = json_array();
	if (tags) {
		char *copy = it_strdup(tags), *save = NULL;
		for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
			json_array_append_new(t, json_string(p));
		free(copy);
	}
	char *body = it_jpack("{s:s, s:s, s:o}", "title", title, "content", content, "tags", t);
	long long id = note_create(&srv, token, body);
	free(body);
	return id;
}

/* GET /api/v1/search?query=<q>[&extra] as token. */
static int search(const char *token, const char *q, const char *extra, struct http_resp *r)
{
	char *enc = it_urlencode(q);
	char *path =
	    it_asprintf("/api/v1/search?query=%s%s%s", enc, extra ? "&" : "", extra ? extra : "");
	int st = api(&srv, "GET", path, token, NULL, r);
	free(path);
	free(enc);
	return st;
}

static int search_post(const char *token, const char *body, struct http_resp *r)
{
	return api(&srv, "POST", "/api/v1/search", token, body, r);
}

static json_t *results(const struct http_resp *r)
{
	json_t *a = r->json ? json_object_get(r->json, "results") : NULL;
	cr_assert(json_is_array(a), "no results array: %.500s", r->body);
	return a;
}

static size_t nresults(const struct http_resp *r)
{
	return json_array_size(results(r));
}

static long long result_id(const struct http_resp *r, size_t i)
{
	return (long long)json_integer_value(json_object_get(json_array_get(results(r), i), "id"));
}

static bool has_result(const struct http_resp *r, long long id)
{
	for (size_t i = 0; i < nresults(r); i++)
		if (result_id(r, i) == id)
			return true;
	return false;
}

static double result_num(const struct http_resp *r, size_t i, const char *key)
{
	return json_number_value(json_object_get(json_array_get(results(r), i), key));
}

static const char *result_str(const struct http_resp *r, size_t i, const char *key)
{
	json_t *v = json_object_get(json_array_get(results(r), i), key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The ids of the results as "3,1,2", for messages and comparisons. Caller frees. */
static char *ids_of(const struct http_resp *r)
{
	char *out = it_strdup("");
	for (size_t i = 0; i < nresults(r); i++) {
		char *n = it_asprintf("%s%s%lld", out, i ? "," : "", result_id(r, i));
		free(out);
		out = n;
	}
	return out;
}

/*
 * Asserts a 200 search answer of the documented shape: query, mode, top_k
 * and results, each a note with similarity in [0, 1], a numeric score and an
 * excerpt of at most SEARCH_EXCERPT_MAX (300) characters plus two ellipses.
 */
static void check_shape(const struct http_resp *r, const char *mode, const char *what)
{
	cr_assert_eq(r->status, 200, "%s: status %d, body %.500s", what, r->status, r->body);
	cr_assert(json_is_object(r->json), "%s: not JSON: %.300s", what, r->body);
	cr_assert(resp_str(r, "query"), "%s: no query echoed: %.300s", what, r->body);
	cr_assert(resp_str(r, "mode") && strcmp(resp_str(r, "mode"), mode) == 0,
	          "%s: mode %s, expected %s", what, resp_str(r, "mode"), mode);
	cr_assert(json_is_integer(json_object_get(r->json, "top_k")), "%s: top_k: %.300s", what,
	          r->body);
	size_t n = nresults(r);
	cr_assert_leq(n, (size_t)json_integer_value(json_object_get(r->json, "top_k")),
	              "%s: more results than top_k", what);
	for (size_t i = 0; i < n; i++) {
		json_t *h = json_array_get(results(r), i);
		cr_assert(json_is_integer(json_object_get(h, "id")), "%s: result %zu id", what, i);
		cr_assert(json_is_string(json_object_get(h, "title")), "%s: result %zu title", what,
		          i);
		cr_assert(json_is_array(json_object_get(h, "tags")), "%s: result %zu tags", what,
		          i);
		cr_assert(json_is_string(json_object_get(h, "embedding_status")),
		          "%s: result %zu embedding_status", what, i);
		json_t *sim = json_object_get(h, "similarity"),
		       *score = json_object_get(h, "score");
		cr_assert(json_is_number(sim), "%s: result %zu similarity is not a number", what,
		          i);
		cr_assert(json_number_value(sim) >= 0 && json_number_value(sim) <= 1,
		          "%s: result %zu similarity %g outside [0, 1]", what, i,
		          json_number_value(sim));
		cr_assert(json_is_number(score), "%s: result %zu score is not a number", what, i);
		const char *ex = json_string_value(json_object_get(h, "excerpt"));
		cr_assert(ex, "%s: result %zu has no string excerpt", what, i);
		cr_assert_leq(it_utf8_len(ex), 302, "%s: result %zu excerpt of %zu characters: %s",
		              what, i, it_utf8_len(ex), ex);
	}
	/* Best first: scores never rise down the list. */
	for (size_t i = 1; i < n; i++)
		cr_assert_geq(result_num(r, i - 1, "score"), result_num(r, i, "score"),
		              "%s: results not sorted by score: %.600s", what, r->body);
}

static void expect_422(const char *token, const char *method, const char *path_or_query,
                       const char *body)
{
	struct http_resp r;
	if (strcmp(method, "GET") == 0) {
		char *path = it_asprintf("/api/v1/search?%s", path_or_query);
		api(&srv, "GET", path, token, NULL, &r);
		free(path);
	} else {
		search_post(token, body, &r);
	}
	const char *what = body ? body : path_or_query;
	cr_expect_eq(r.status, 422, "%s %.120s: status %d, expected 422 (%.300s)", method, what,
	             r.status, r.body);
	if (r.status == 422)
		assert_error_body(&r, what);
	http_resp_free(&r);
}

/* A small corpus on unrelated topics; ids in order. */
static long long corpus[6];

static void seed(const char *token)
{
	corpus[0] = add(token, "Sourdough bread recipe",
	                "Mix flour, water and salt. Let the dough rise overnight and bake at 250 "
	                "degrees in a dutch oven.",
	                "cooking");
	corpus[1] = add(token, "Kubernetes deployment notes",
	                "Use kubectl apply to roll out the deployment. Check pods with kubectl get "
	                "pods and read the logs.",
	                "work,devops");
	corpus[2] = add(
	    token, "Trip to Lisbon",
	    "We visited the castle, rode tram 28 and ate pastel de nata near the river.", "travel");
	corpus[3] = add(token, "Tax return 2024",
	                "The deadline is April 15. Gather receipts, bank statements and the W-2 "
	                "forms.",
	                "finance");
	corpus[4] = add(token, "Marathon training",
	                "Run 40 km a week: a long run on Sunday, intervals on Wednesday, rest on "
	                "Friday.",
	                "health");
	corpus[5] = add(token, "Book club: Dune",
	                "Discuss the desert planet, the spice, the Fremen and the visions of Paul "
	                "next Thursday.",
	                "books");
}

static void setup(const char *const *env)
{
	server_start(&srv, env);
	user_new(&srv, &me);
}

static void setup_corpus(void)
{
	setup(NULL);
	seed(me.access);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.failed, 0, "local embedding failed for %lld chunks", ix.failed);
}

/* ------------------------------------------------------------------ */
/* Forms and modes */

/*
 * Issue 9's complaint, on a default install: queries that share no word with
 * the note they mean find it first in semantic mode, through the real
 * worker and the built-in model.
 */
Test(search, finds_notes_by_meaning)
{
	setup(NULL);
	long long car = add(me.access, "Car maintenance",
	                    "Change the engine oil every 10,000 km and check the tyre pressure "
	                    "monthly.",
	                    NULL);
	long long nn =
	    add(me.access, "Training a neural network",
	        "Split the data, pick a loss function, watch the validation curve.", NULL);
	add(me.access, "Sourdough bread recipe",
	    "Mix flour, water and salt. Let the dough rise overnight and bake at 250 degrees.",
	    NULL);
	add(me.access, "Trip to Lisbon", "We rode tram 28 and ate pastel de nata.", NULL);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.ready, 4);
	const struct {
		const char *query;
		long long want;
	} cases[] = {{"vehicle upkeep", car}, {"machine learning models", nn}};
	for (size_t i = 0; i < 2; i++) {
		struct http_resp r;
		search(me.access, cases[i].query, "mode=semantic", &r);
		check_shape(&r, "semantic", cases[i].query);
		cr_assert_geq(nresults(&r), 1, "%s found nothing: %.300s", cases[i].query, r.body);
		cr_assert_eq(result_id(&r, 0), cases[i].want, "%s: %.600s", cases[i].query, r.body);
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

Test(search, get_and_post_forms_agree)
{
	setup_corpus();
	struct http_resp g, p;
	search(me.access, "kubectl pods deployment", "top_k=3", &g);
	check_shape(&g, "hybrid", "GET");
	cr_assert_str_eq(resp_str(&g, "query"), "kubectl pods deployment");
	cr_assert_eq(json_integer_value(json_object_get(g.json, "top_k")), 3);
	cr_assert_geq(nresults(&g), 1, "nothing found: %.500s", g.body);
	cr_assert_eq(result_id(&g, 0), corpus[1], "the Kubernetes note is not first: %.500s",
	             g.body);

	search_post(me.access, "{\"query\":\"kubectl pods deployment\",\"top_k\":3}", &p);
	check_shape(&p, "hybrid", "POST");
	char *a = ids_of(&g), *b = ids_of(&p);
	cr_assert_str_eq(a, b, "GET and POST disagree: %s vs %s", a, b);
	free(a);
	free(b);
	/* The defaults: hybrid, top_k 5. */
	http_resp_free(&p);
	search_post(me.access, "{\"query\":\"kubectl\"}", &p);
	check_shape(&p, "hybrid", "POST defaults");
	cr_assert_eq(json_integer_value(json_object_get(p.json, "top_k")), 5);
	http_resp_free(&p);
	http_resp_free(&g);

	/* A long query only the POST form carries comfortably. */
	char *many = it_repeat("kubectl pods ", 70); /* 910 characters */
	char *body = it_jpack("{s:s, s:s}", "query", many, "mode", "keyword");
	search_post(me.access, body, &p);
	check_shape(&p, "keyword", "POST long query");
	cr_assert(has_result(&p, corpus[1]), "long query lost the Kubernetes note: %.300s", p.body);
	http_resp_free(&p);
	free(body);
	free(many);

	/* Not without a token. */
	search(NULL, "kubectl", NULL, &p);
	cr_assert_eq(p.status, 401, "search without a token: %d", p.status);
	http_resp_free(&p);
	server_stop_ok(&srv);
}

Test(search, three_modes)
{
	setup_corpus();
	static const char *const modes[] = {"hybrid", "semantic", "keyword"};
	for (size_t m = 0; m < 3; m++) {
		struct http_resp r;
		char *extra = it_asprintf("mode=%s", modes[m]);
		search(me.access, "marathon intervals long run", extra, &r);
		check_shape(&r, modes[m], modes[m]);
		cr_assert_geq(nresults(&r), 1, "%s: nothing found: %.300s", modes[m], r.body);
		cr_assert_eq(result_id(&r, 0), corpus[4],
		             "%s: the marathon note is not first: %.500s", modes[m], r.body);
		if (strcmp(modes[m], "semantic") == 0) {
			cr_assert_gt(result_num(&r, 0, "similarity"), 0.1,
			             "semantic hit with similarity %g",
			             result_num(&r, 0, "similarity"));
			/* In semantic mode the score is the similarity. */
			cr_assert_float_eq(result_num(&r, 0, "score"),
			                   result_num(&r, 0, "similarity"), 1e-3, "%.300s", r.body);
		}
		http_resp_free(&r);
		free(extra);
	}

	/* A word that is nowhere: keyword finds nothing. */
	struct http_resp r;
	search(me.access, "zeppelin", "mode=keyword", &r);
	check_shape(&r, "keyword", "keyword miss");
	cr_assert_eq(nresults(&r), 0, "keyword search for an absent word: %.300s", r.body);
	http_resp_free(&r);

	/* The keyword index covers tags too. */
	search(me.access, "devops", "mode=keyword", &r);
	check_shape(&r, "keyword", "tag word");
	cr_assert(has_result(&r, corpus[1]), "a tag word is not found by keyword: %.300s", r.body);
	http_resp_free(&r);

	/* Stemming: "baking" finds "bake". */
	search(me.access, "baking", "mode=keyword", &r);
	check_shape(&r, "keyword", "stemmed");
	cr_assert(has_result(&r, corpus[0]), "\"baking\" does not find \"bake\": %.300s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Validation */

Test(search, validation_422)
{
	setup(NULL);
	add(me.access, "Something", "some words", NULL);
	char *q1000 = it_repeat("word ", 200); /* 1000 characters */
	char *q1001 = it_asprintf("%sx", q1000);
	char *e1000 = it_repeat("\xc3\xa9", 1000), *e1001 = it_repeat("\xc3\xa9", 1001);
	char *enc1000 = it_urlencode(q1000), *enc1001 = it_urlencode(q1001);
	char *ence1000 = it_urlencode(e1000), *ence1001 = it_urlencode(e1001);

	const char *bad_get[] = {
	    "",
	    "top_k=5",
	    "query=",
	    "query=kubectl&top_k=0",
	    "query=kubectl&top_k=21",
	    "query=kubectl&top_k=-1",
	    "query=kubectl&top_k=abc",
	    "query=kubectl&top_k=5.5",
	    "query=kubectl&mode=fuzzy",
	    "query=kubectl&mode=",
	    "query=kubectl&mode=HYBRID",
	    "query=kubectl&min_similarity=1.5",
	    "query=kubectl&min_similarity=-0.1",
	    "query=kubectl&min_similarity=abc",
	    "query=kubectl&min_similarity=",
	    "query=kubectl&min_similarity=nan",
	};
	for (size_t i = 0; i < sizeof(bad_get) / sizeof(bad_get[0]); i++)
		expect_422(me.access, "GET", bad_get[i], NULL);
	char *g1001 = it_asprintf("query=%s", enc1001), *ge1001 = it_asprintf("query=%s", ence1001);
	expect_422(me.access, "GET", g1001, NULL);
	expect_422(me.access, "GET", ge1001, NULL);

	char *p1001 = it_jpack("{s:s}", "query", q1001);
	const char *bad_post[] = {
	    "{}",
	    "{\"query\":\"\"}",
	    "{\"query\":42}",
	    "{\"query\":\"kubectl\",\"top_k\":0}",
	    "{\"query\":\"kubectl\",\"top_k\":21}",
	    "{\"query\":\"kubectl\",\"top_k\":\"5\"}",
	    "{\"query\":\"kubectl\",\"top_k\":2.5}",
	    "{\"query\":\"kubectl\",\"mode\":\"fuzzy\"}",
	    "{\"query\":\"kubectl\",\"mode\":3}",
	    "{\"query\":\"kubectl\",\"min_similarity\":1.01}",
	    "{\"query\":\"kubectl\",\"min_similarity\":-1}",
	    "{\"query\":\"kubectl\",\"min_similarity\":\"0.5\"}",
	    "{\"query\":\"kubectl\",\"tags\":\"x\"}",
	    "{\"query\":\"kubectl\",\"tags\":[1]}",
	    p1001,
	};
	for (size_t i = 0; i < sizeof(bad_post) / sizeof(bad_post[0]); i++)
		expect_422(me.access, "POST", NULL, bad_post[i]);

	/* The limits themselves are fine; they count characters, not bytes. */
	struct http_resp r;
	const char *ok_get[] = {"top_k=1",          "top_k=20",      "min_similarity=0",
	                        "min_similarity=1", "mode=semantic", "mode=keyword",
	                        "mode=hybrid"};
	for (size_t i = 0; i < sizeof(ok_get) / sizeof(ok_get[0]); i++) {
		search(me.access, "words", ok_get[i], &r);
		cr_expect_eq(r.status, 200, "%s: status %d (%.300s)", ok_get[i], r.status, r.body);
		http_resp_free(&r);
	}
	char *g1000 = it_asprintf("/api/v1/search?query=%s", enc1000);
	api(&srv, "GET", g1000, me.access, NULL, &r);
	cr_expect_eq(r.status, 200, "1000-character query: %d %.300s", r.status, r.body);
	http_resp_free(&r);
	char *ge1000 = it_asprintf("/api/v1/search?query=%s", ence1000);
	api(&srv, "GET", ge1000, me.access, NULL, &r);
	cr_expect_eq(r.status, 200, "1000 x U+00E9 (2000 bytes): %d %.300s", r.status, r.body);
	http_resp_free(&r);

	free(q1000);
	free(q1001);
	free(e1000);
	free(e1001);
	free(enc1000);
	free(enc1001);
	free(ence1000);
	free(ence1001);
	free(g1001);
	free(ge1001);
	free(g1000);
	free(ge1000);
	free(p1001);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Excerpts */

/* A long plain paragraph of distinct sentences with one sentence about a zebra in the middle. */
static char *long_text(const char *needle_sentence, int before, int after)
{
	static const char *const nouns[] = {"lantern", "harbor",  "violin", "meadow", "copper",
	                                    "glacier", "orchard", "canyon", "pepper", "saddle",
	                                    "window",  "thistle", "cobalt", "falcon", "ribbon"};
	static const char *const verbs[] = {"polished", "painted", "measured", "counted",
	                                    "carried",  "mended",  "sketched", "folded"};
	char *out = it_strdup("");
	for (int i = 0; i < before + after + 1; i++) {
		char *s;
		if (i == before)
			s = it_asprintf("%s%s", *out ? " " : "", needle_sentence);
		else
			s = it_asprintf("%sThe %s was %s again on day %d by the %s keeper.",
			                *out ? " " : "", nouns[i % 15], verbs[i % 8], i + 1,
			                nouns[(i * 7 + 3) % 15]);
		char *n = it_asprintf("%s%s", out, s);
		free(out);
		free(s);
		out = n;
	}
	return out;
}

/* Strips a leading and a trailing "…" (U+2026); returns a copy. */
static char *strip_ellipses(const char *ex, bool *lead, bool *trail)
{
	static const char ell[] = "\xe2\x80\xa6";
	*lead = strncmp(ex, ell, 3) == 0;
	const char *p = ex + (*lead ? 3 : 0);
	char *out = it_strdup(p);
	size_t n = strlen(out);
	*trail = n >= 3 && strcmp(out + n - 3, ell) == 0;
	if (*trail)
		out[n - 3] = '\0';
	return out;
}

/* Asserts ex (without ellipses) is a run of whole words of content. */
static void check_word_cut(const char *content, const char *ex, const char *what)
{
	bool lead, trail;
	char *body = strip_ellipses(ex, &lead, &trail);
	cr_assert(*body, "%s: empty excerpt", what);
	const char *at = strstr(content, body);
	cr_assert(at, "%s: excerpt is not a passage of the note:\n%s", what, ex);
	size_t end = (size_t)(at - content) + strlen(body);
	cr_assert(at == content || at[-1] == ' ', "%s: excerpt starts mid-word: %s", what, ex);
	cr_assert(content[end] == '\0' || content[end] == ' ', "%s: excerpt ends mid-word: %s",
	          what, ex);
	cr_assert(!trail || content[end] != '\0', "%s: an ellipsis after the end of the note: %s",
	          what, ex);
	free(body);
}

Test(search, excerpts_are_short_relevant_and_cut_at_words)
{
	setup(NULL);
	char *content =
	    long_text("A zebra crossing near the school was repainted in white.", 14, 14);
	cr_assert_gt(strlen(content), 1500);
	long long id = add(me.access, "Street log", content, NULL);
	/* The same with two-byte letters, so a cut in bytes would show. */
	char *accented = it_strdup("");
	for (int i = 0; i < 60; i++) {
		char *n =
		    it_asprintf("%s%sCaf\xc3\xa9 cr\xc3\xa8me num\xc3\xa9ro %d, d\xc3\xa9j\xc3\xa0 "
		                "servi.",
		                accented, i ? " " : "", i);
		free(accented);
		accented = n;
	}
	char *acc_content = it_asprintf("%s Une cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
	                                "e parfaite ici. %s",
	                                accented, accented);
	long long acc = add(me.access, "Menu", acc_content, NULL);
	long long short_id = add(me.access, "Tiny", "A zebra is striped.", NULL);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);

	static const char *const modes[] = {"keyword", "hybrid", "semantic"};
	for (size_t m = 0; m < 3; m++) {
		struct http_resp r;
		char *extra = it_asprintf("mode=%s&top_k=5", modes[m]);
		search(me.access, "zebra", extra, &r);
		check_shape(&r, modes[m], modes[m]);
		bool seen = false;
		for (size_t i = 0; i < nresults(&r); i++) {
			if (result_id(&r, i) != id)
				continue;
			seen = true;
			const char *ex = result_str(&r, i, "excerpt");
			cr_assert(it_contains(ex, "zebra", true),
			          "%s: the excerpt misses the query word: %s", modes[m], ex);
			cr_assert_leq(it_utf8_len(ex), 302, "%s: excerpt too long", modes[m]);
			cr_assert_geq(it_utf8_len(ex), 40, "%s: excerpt suspiciously short: %s",
			              modes[m], ex);
			check_word_cut(content, ex, modes[m]);
		}
		cr_assert(seen || strcmp(modes[m], "semantic") == 0,
		          "%s: the long note is not found: %.500s", modes[m], r.body);
		/* The short note comes whole, with no ellipsis. */
		for (size_t i = 0; i < nresults(&r); i++)
			if (result_id(&r, i) == short_id)
				cr_assert_str_eq(result_str(&r, i, "excerpt"),
				                 "A zebra is striped.", "%s: short note's excerpt",
				                 modes[m]);
		http_resp_free(&r);
		free(extra);
	}

	struct http_resp r;
	search(me.access,
	       "br\xc3\xbbl\xc3\xa9"
	       "e",
	       "mode=keyword", &r);
	check_shape(&r, "keyword", "accented");
	cr_assert(has_result(&r, acc), "accented word not found: %.300s", r.body);
	const char *ex = result_str(&r, 0, "excerpt");
	cr_assert(it_contains(ex,
	                      "br\xc3\xbbl\xc3\xa9"
	                      "e",
	                      false),
	          "accented excerpt: %s", ex);
	check_word_cut(acc_content, ex, "accented");
	http_resp_free(&r);

	free(content);
	free(accented);
	free(acc_content);
	server_stop_ok(&srv);
}

/* A hit names the headings above its passage; a note without headings has none. */
Test(search, hits_name_the_section_of_their_passage)
{
	setup(NULL);
	long long manual = add(me.access, "Widget manual",
	                       "# Setup\n\nUnpack the box.\n\n## Install\n\nBolt the sprocket "
	                       "to the flange with the long screws.\n\n# Care\n\nDust it weekly.",
	                       NULL);
	long long flat = add(me.access, "Flat note", "The sprocket rattles on cold days.", NULL);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	static const char *const modes[] = {"keyword", "hybrid", "semantic"};
	for (size_t m = 0; m < 3; m++) {
		struct http_resp r;
		char *extra = it_asprintf("mode=%s", modes[m]);
		search(me.access, "sprocket flange screws", extra, &r);
		check_shape(&r, modes[m], modes[m]);
		size_t seen = 0;
		for (size_t i = 0; i < nresults(&r); i++) {
			if (result_id(&r, i) == manual) {
				cr_assert_str_eq(result_str(&r, i, "section"), "Setup > Install",
				                 "%s", modes[m]);
				seen++;
			} else if (result_id(&r, i) == flat) {
				cr_assert_str_eq(result_str(&r, i, "section"), "", "%s", modes[m]);
				seen++;
			}
		}
		cr_assert_eq(seen, 2, "%s: both notes should be found: %.500s", modes[m], r.body);
		http_resp_free(&r);
		free(extra);
	}
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Ranking */

Test(search, exact_title_or_tag_comes_first)
{
	setup(NULL);
	/* Decoys that say the words far more often than the note titled with them. */
	for (int i = 0; i < 8; i++) {
		char *title = it_asprintf("Spring garden planning %d", i);
		add(me.access, title,
		    "Garden plan ideas: plan the garden beds, plan the garden paths, garden plan "
		    "for "
		    "the garden shed. The garden plan needs a plan for every garden corner.",
		    "ideas");
		free(title);
	}
	long long exact = add(me.access, "Garden Plan",
	                      "Tomatoes in the south bed, beans along the fence.", NULL);
	long long tagged = add(me.access, "Errands", "Buy nails and a hammer.", "hardware store");
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);

	static const char *const queries[] = {"garden plan", "Garden Plan", "GARDEN  PLAN"};
	for (size_t i = 0; i < 3; i++) {
		struct http_resp r;
		search(me.access, queries[i], "top_k=10", &r);
		check_shape(&r, "hybrid", queries[i]);
		cr_assert_geq(nresults(&r), 2, "%s: %.300s", queries[i], r.body);
		cr_assert_eq(result_id(&r, 0), exact,
		             "\"%s\": the note titled so is not first (ids %lld first): %.600s",
		             queries[i], result_id(&r, 0), r.body);
		http_resp_free(&r);
	}
	/* POST form, too. */
	struct http_resp r;
	search_post(me.access, "{\"query\":\"garden plan\",\"top_k\":3}", &r);
	check_shape(&r, "hybrid", "POST");
	cr_assert_eq(result_id(&r, 0), exact, "POST: the titled note is not first: %.600s", r.body);
	http_resp_free(&r);

	/* An exact tag lifts its note as well. */
	search(me.access, "hardware store", "top_k=10", &r);
	check_shape(&r, "hybrid", "tag");
	cr_assert_geq(nresults(&r), 1, "%.300s", r.body);
	cr_assert_eq(result_id(&r, 0), tagged,
	             "the note tagged \"hardware store\" is not first: %.600s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Filters */

Test(search, tag_filter_applies_before_top_k)
{
	setup(NULL);
	long long tagged[6], both[3];
	size_t nboth = 0;
	/* 24 strong matches without the tag, created first and saying "budget" most. */
	for (int i = 0; i < 24; i++) {
		char *title = it_asprintf("Budget budget %d", i);
		add(me.access, title,
		    "Budget planning: the budget, the yearly budget and the budget review. Budget "
		    "budget budget.",
		    i % 2 ? "misc" : NULL);
		free(title);
	}
	/* 6 weaker matches with the tag; 3 of them carry a second tag. */
	for (int i = 0; i < 6; i++) {
		char *title = it_asprintf("Household note %d", i);
		tagged[i] =
		    add(me.access, title,
		        "The monthly budget for groceries and rent, noted for the household.",
		        i < 3 ? "finance,2025" : "finance");
		if (i < 3)
			both[nboth++] = tagged[i];
		free(title);
	}
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);

	static const char *const modes[] = {"hybrid", "semantic", "keyword"};
	for (size_t m = 0; m < 3; m++) {
		struct {
			const char *extra;
			size_t want;
			const long long *allowed;
			size_t nallowed;
		} cases[] = {
		    {"tag=finance&top_k=5", 5, tagged, 6},
		    {"tag=finance&top_k=6", 6, tagged, 6},
		    {"tag=finance&top_k=20", 6, tagged, 6},
		    {"tag=finance&tag=2025&top_k=20", 3, both, 3},
		    {"tag=2025&tag=finance&top_k=2", 2, both, 3},
		    {"tag=finance&tag=finance&top_k=20", 6, tagged, 6},
		    {"tag=finance&tag=nosuchtag&top_k=20", 0, NULL, 0},
		};
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			char *extra = it_asprintf("%s&mode=%s", cases[c].extra, modes[m]);
			struct http_resp r;
			search(me.access, "budget", extra, &r);
			check_shape(&r, modes[m], extra);
			char *ids = ids_of(&r);
			cr_assert_eq(nresults(&r), cases[c].want,
			             "%s: %zu results (%s), expected %zu: every tagged match up to "
			             "top_k",
			             extra, nresults(&r), ids, cases[c].want);
			for (size_t i = 0; i < nresults(&r); i++) {
				bool ok = false;
				for (size_t k = 0; k < cases[c].nallowed; k++)
					ok |= result_id(&r, i) == cases[c].allowed[k];
				cr_assert(ok, "%s: note %lld lacks a required tag (%s)", extra,
				          result_id(&r, i), ids);
			}
			free(ids);
			http_resp_free(&r);
			free(extra);
		}
	}

	/* POST: "tags" (all of them) and "tag" (one). */
	struct http_resp r;
	search_post(me.access,
	            "{\"query\":\"budget\",\"tags\":[\"finance\",\"2025\"],\"top_k\":20}", &r);
	check_shape(&r, "hybrid", "POST tags");
	cr_assert_eq(nresults(&r), 3, "POST tags: %.500s", r.body);
	http_resp_free(&r);
	search_post(me.access, "{\"query\":\"budget\",\"tag\":\"finance\",\"top_k\":20}", &r);
	check_shape(&r, "hybrid", "POST tag");
	cr_assert_eq(nresults(&r), 6, "POST tag: %.500s", r.body);
	http_resp_free(&r);

	/* Without a filter, top_k still caps: 20 of the 30 matches. */
	search(me.access, "budget", "top_k=20&mode=keyword", &r);
	check_shape(&r, "keyword", "no filter");
	cr_assert_eq(nresults(&r), 20, "no filter: %zu results", nresults(&r));
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(search, tag_filter_normalises_like_the_notes_list)
{
	setup(NULL);
	long long id = add(me.access, "Quarterly budget", "The budget for the quarter.", "finance");
	struct http_resp r;
	/* GET /api/v1/notes trims tag filters, as tags are trimmed when stored. */
	api(&srv, "GET", "/api/v1/notes?tag=%20finance%20", me.access, NULL, &r);
	cr_assert_eq(r.status, 200);
	json_t *items = json_object_get(r.json, "items");
	cr_assert_eq(json_array_size(items), 1, "the notes list does not trim tags: %.300s",
	             r.body);
	http_resp_free(&r);
	/* Search filters by the same rule. */
	search(me.access, "budget", "tag=%20finance%20&mode=keyword", &r);
	check_shape(&r, "keyword", "padded tag");
	cr_assert(has_result(&r, id),
	          "search with tag=\" finance \" misses the note the notes list finds: %.300s",
	          r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(search, similarity_floor_and_unrelated_queries)
{
	setup_corpus();
	struct http_resp r;

	/* Nothing in the corpus is about this: an empty list, not noise. */
	static const char *const modes[] = {"hybrid", "semantic", "keyword"};
	for (size_t m = 0; m < 3; m++) {
		char *extra = it_asprintf("mode=%s&top_k=20", modes[m]);
		search(me.access, "quantum chromodynamics lattice", extra, &r);
		check_shape(&r, modes[m], "unrelated");
		cr_assert_eq(nresults(&r), 0, "%s: an unrelated query found %zu notes: %.600s",
		             modes[m], nresults(&r), r.body);
		http_resp_free(&r);
		free(extra);
	}

	/* min_similarity=0 lets every embedded note through in semantic mode. */
	search(me.access, "dough flour oven", "mode=semantic&min_similarity=0&top_k=20", &r);
	check_shape(&r, "semantic", "floor 0");
	size_t all = nresults(&r);
	cr_assert_eq(all, 6, "min_similarity=0 should list every embedded note: %.600s", r.body);
	cr_assert_eq(result_id(&r, 0), corpus[0], "bread note not first: %.600s", r.body);
	double top = result_num(&r, 0, "similarity");
	http_resp_free(&r);

	/* A floor between the best and the rest keeps the best only; every hit clears it. */
	double floors[] = {0.05, 0.15, top - 0.01};
	size_t prev = all;
	for (size_t i = 0; i < 3; i++) {
		char *extra = it_asprintf("mode=semantic&top_k=20&min_similarity=%.4f", floors[i]);
		search(me.access, "dough flour oven", extra, &r);
		check_shape(&r, "semantic", extra);
		cr_assert_leq(nresults(&r), prev, "%s: a higher floor gave more results", extra);
		prev = nresults(&r);
		for (size_t k = 0; k < nresults(&r); k++)
			cr_assert_geq(result_num(&r, k, "similarity"), floors[i] - 1e-4,
			              "%s: a result under the floor: %.600s", extra, r.body);
		http_resp_free(&r);
		free(extra);
	}
	cr_assert_eq(prev, 1, "a floor just under the best similarity should keep one note");
	search(me.access, "dough flour oven", "mode=semantic&min_similarity=1", &r);
	check_shape(&r, "semantic", "floor 1");
	cr_assert_eq(nresults(&r), 0, "min_similarity=1: %.300s", r.body);
	http_resp_free(&r);
	search_post(
	    me.access,
	    "{\"query\":\"dough flour oven\",\"mode\":\"semantic\",\"min_similarity\":0.99}", &r);
	check_shape(&r, "semantic", "POST floor");
	cr_assert_eq(nresults(&r), 0, "POST min_similarity=0.99: %.300s", r.body);
	http_resp_free(&r);

	/*
	 * Hybrid: a higher floor never adds results. (Keyword hits under the
	 * floor may stay: they matched words. See the report.)
	 */
	search(me.access, "dough flour oven", "min_similarity=0&top_k=20", &r);
	size_t h0 = nresults(&r);
	http_resp_free(&r);
	search(me.access, "dough flour oven", "min_similarity=0.99&top_k=20", &r);
	check_shape(&r, "hybrid", "hybrid floor");
	cr_assert_leq(nresults(&r), h0, "hybrid: a higher floor gave more results");
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Freshness */

Test(search, follows_updates_and_deletes)
{
	setup(NULL);
	long long id = add(me.access, "Shopping", "Buy artichokes and parsnips.", NULL);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	struct http_resp r;
	search(me.access, "artichokes", "mode=keyword", &r);
	cr_assert(has_result(&r, id), "%.300s", r.body);
	http_resp_free(&r);

	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", id);
	api(&srv, "PUT", path, me.access, "{\"content\":\"Buy rhubarb and quinces.\"}", &r);
	cr_assert_eq(r.status, 200, "%.300s", r.body);
	http_resp_free(&r);
	/* Keyword search sees the change at once, before any embedding. */
	search(me.access, "artichokes", "mode=keyword", &r);
	cr_assert(!has_result(&r, id), "old words still found after an update: %.300s", r.body);
	http_resp_free(&r);
	search(me.access, "rhubarb", "mode=keyword", &r);
	cr_assert(has_result(&r, id), "new words not found after an update: %.300s", r.body);
	http_resp_free(&r);
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	search(me.access, "rhubarb quinces", "mode=semantic", &r);
	cr_assert(has_result(&r, id), "semantic search misses the new text: %.300s", r.body);
	cr_assert_str_eq(result_str(&r, 0, "excerpt"), "Buy rhubarb and quinces.");
	http_resp_free(&r);

	api(&srv, "DELETE", path, me.access, NULL, &r);
	cr_assert_eq(r.status, 204);
	http_resp_free(&r);
	static const char *const modes[] = {"hybrid", "semantic", "keyword"};
	for (size_t m = 0; m < 3; m++) {
		char *extra = it_asprintf("mode=%s&min_similarity=0", modes[m]);
		search(me.access, "rhubarb quinces", extra, &r);
		check_shape(&r, modes[m], "after delete");
		cr_assert_eq(nresults(&r), 0, "%s: a deleted note is still found: %.300s", modes[m],
		             r.body);
		http_resp_free(&r);
		free(extra);
	}
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.pending + ix.ready + ix.failed, 0, "chunks of a deleted note remain");
	server_stop_ok(&srv);
}

static const char *const no_worker_env[] = {"EMBED_WORKER=false", NULL};

Test(search, unembedded_notes_are_found_by_words)
{
	setup(no_worker_env);
	long long id =
	    add(me.access, "Plumbing", "The kitchen faucet drips; call the plumber.", NULL);
	char *st = note_embedding_status(&srv, me.access, id);
	cr_assert_str_eq(st, "pending");
	free(st);
	struct http_resp r;
	search(me.access, "faucet plumber", NULL, &r);
	check_shape(&r, "hybrid", "pending hybrid");
	cr_assert_eq(nresults(&r), 1, "hybrid misses a pending note: %.300s", r.body);
	cr_assert_eq(result_id(&r, 0), id);
	cr_assert_float_eq(result_num(&r, 0, "similarity"), 0.0, 1e-9,
	                   "a note without vectors has similarity 0: %.300s", r.body);
	cr_assert_str_eq(result_str(&r, 0, "embedding_status"), "pending");
	cr_assert(it_contains(result_str(&r, 0, "excerpt"), "faucet", false), "%.300s", r.body);
	http_resp_free(&r);
	search(me.access, "faucet plumber", "mode=semantic", &r);
	check_shape(&r, "semantic", "pending semantic");
	cr_assert_eq(nresults(&r), 0, "semantic search found a note with no vectors: %.300s",
	             r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Isolation */

Test(search, never_another_users_notes)
{
	setup(NULL);
	user_new(&srv, &other);
	long long mine = add(me.access, "Sourdough starter",
	                     "Feed the sourdough starter with rye flour every morning.", "bread");
	long long theirs =
	    add(other.access, "Sourdough starter",
	        "Feed the sourdough starter with rye flour every evening. Secret: xylophone.",
	        "bread,private");
	static const char *const modes[] = {"hybrid", "semantic", "keyword"};
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.ready, 1, "my index counts another user's chunks: ready %lld", ix.ready);
	index_wait_settled(&srv, other.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(ix.ready, 1);
	/* Several of theirs match the queries better than mine. */
	for (int i = 0; i < 5; i++)
		add(other.access, "Sourdough starter rye flour",
		    "Sourdough starter: rye flour, sourdough starter, rye flour, starter.",
		    "bread");
	index_wait_settled(&srv, other.access, EMBED_TIMEOUT_MS, &ix);

	/* They must not even take places in my top_k: my one note is the one result. */
	for (size_t m = 0; m < 3; m++) {
		char *extra = it_asprintf("mode=%s&top_k=1", modes[m]);
		struct http_resp r;
		search(me.access, "sourdough starter rye flour", extra, &r);
		check_shape(&r, modes[m], "top_k 1");
		cr_assert_eq(
		    nresults(&r), 1,
		    "%s top_k=1: %zu results; another user's notes took the place of mine: "
		    "%.300s",
		    modes[m], nresults(&r), r.body);
		cr_assert_eq(result_id(&r, 0), mine);
		http_resp_free(&r);
		free(extra);
	}

	static const char *const queries[] = {"sourdough starter rye flour", "Sourdough starter",
	                                      "xylophone", "private"};
	for (size_t m = 0; m < 3; m++)
		for (size_t q = 0; q < 4; q++) {
			char *extra = it_asprintf("mode=%s&top_k=20&min_similarity=0", modes[m]);
			struct http_resp r;
			search(me.access, queries[q], extra, &r);
			check_shape(&r, modes[m], queries[q]);
			cr_assert(!has_result(&r, theirs), "%s \"%s\": another user's note: %.500s",
			          modes[m], queries[q], r.body);
			char *res = json_dumps(results(&r), JSON_COMPACT);
			cr_assert(!it_contains(res, "xylophone", true),
			          "%s \"%s\": another user's text leaked: %.500s", modes[m],
			          queries[q], res);
			free(res);
			if (q < 2)
				cr_assert(has_result(&r, mine), "%s \"%s\": my own note is missing",
				          modes[m], queries[q]);
			http_resp_free(&r);
			free(extra);
		}
	/* Their tag filters nothing in for me. */
	struct http_resp r;
	search(me.access, "sourdough", "tag=private&min_similarity=0", &r);
	check_shape(&r, "hybrid", "their tag");
	cr_assert_eq(nresults(&r), 0, "%.300s", r.body);
	http_resp_free(&r);
	/* And the other way round. */
	search(other.access, "morning", "mode=keyword", &r);
	cr_assert(!has_result(&r, mine), "%.300s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Provider outage */

Test(search, keyword_search_survives_embedding_outage)
{
	const char *url = fake_openai_start(&fake);
	cr_assert(url, "fake OpenAI server did not start");
	fake_openai_set_dim(fake, 32);
	fake_openai_set_endpoint_mode(fake, FAKE_EP_EMBEDDINGS, FAKE_500, FAKE_ALWAYS);
	char *base = it_asprintf("OPENAI_BASE_URL=%s", url);
	const char *env[] = {"EMBEDDING_PROVIDER=openai",
	                     "EMBEDDING_MODEL=fake-embed",
	                     "EMBEDDING_DIM=32",
	                     base,
	                     "OPENAI_API_KEY=sk-test",
	                     "AI_TIMEOUT_SECONDS=1",
	                     "AI_MAX_RETRIES=1",
	                     "VAULT_TEST_AI_BACKOFF_MS=5",
	                     "VAULT_TEST_AI_COOLDOWN_MS=60000",
	                     NULL};
	setup(env);
	seed(me.access);
	/* The worker has tried and failed at least once. */
	double deadline = it_now_ms() + EMBED_TIMEOUT_MS;
	while (fake_openai_requests(fake, FAKE_EP_EMBEDDINGS) == 0 && it_now_ms() < deadline)
		it_sleep_ms(10);
	cr_assert_gt(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), 0, "the worker never called");

	struct http_resp r;
	for (int round = 0; round < 8; round++) { /* past the breaker's threshold too */
		search(me.access, "kubectl pods", NULL, &r);
		check_shape(&r, "hybrid", "hybrid while down");
		cr_assert_eq(nresults(&r), 1, "round %d: hybrid lost its keyword hit: %.300s",
		             round, r.body);
		cr_assert_eq(result_id(&r, 0), corpus[1]);
		cr_assert_lt(r.elapsed_ms, 5000, "hybrid took %.0f ms while the provider is down",
		             r.elapsed_ms);
		http_resp_free(&r);
	}
	int calls = fake_openai_requests(fake, FAKE_EP_EMBEDDINGS);
	search(me.access, "kubectl pods", "mode=keyword", &r);
	check_shape(&r, "keyword", "keyword while down");
	cr_assert(has_result(&r, corpus[1]), "%.300s", r.body);
	cr_assert_lt(r.elapsed_ms, 1000, "keyword search waited %.0f ms", r.elapsed_ms);
	http_resp_free(&r);
	/* The worker may retry meanwhile, but a keyword search itself asks nothing. */
	for (int i = 0; i < 5; i++) {
		search(me.access, "kubernetes", "mode=keyword", &r);
		http_resp_free(&r);
	}
	cr_assert_leq(fake_openai_requests(fake, FAKE_EP_EMBEDDINGS), calls + 1,
	              "keyword searches called the embedding provider");

	search(me.access, "kubectl pods", "mode=semantic", &r);
	cr_assert_eq(r.status, 503, "semantic search with the provider down: %d %.300s", r.status,
	             r.body);
	assert_error_body(&r, "semantic while down");
	cr_assert(strncmp(resp_str(&r, "detail"), "AI service unavailable", 22) == 0, "detail: %s",
	          resp_str(&r, "detail"));
	cr_assert(!it_contains(r.body, "sk-test", false), "the API key leaked: %s", r.body);
	cr_assert_lt(r.elapsed_ms, 5000, "semantic 503 took %.0f ms", r.elapsed_ms);
	http_resp_free(&r);

	/* Notes and readiness are unaffected. */
	long long id = add(me.access, "Still writable", "yes", NULL);
	cr_assert_eq(note_get(&srv, me.access, id, &r), 200);
	http_resp_free(&r);
	http(&srv, "GET", "/ready", NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "/ready while the embedder is down: %d", r.status);
	http_resp_free(&r);
	struct it_index ix;
	index_status(&srv, me.access, &ix);
	cr_assert_eq(ix.ready, 0, "chunks ready although every embedding failed");
	cr_assert_eq(ix.pending + ix.failed, 7, "pending %lld + failed %lld", ix.pending,
	             ix.failed);

	char *log = server_log(&srv);
	cr_assert(!strstr(log, "sk-test"), "the API key reached the log");
	free(log);
	free(base);
	server_stop_ok(&srv);
}

Test(search, a_slow_provider_costs_one_short_wait_and_says_so)
{
	/* The worker may wait 30 s four times; a person searching waits one
	 * AI_QUERY_TIMEOUT_SECONDS and gets keyword matches, marked as such. */
	const char *url = fake_openai_start(&fake);
	cr_assert(url, "fake OpenAI server did not start");
	fake_openai_set_dim(fake, 32);
	char *base = it_asprintf("OPENAI_BASE_URL=%s", url);
	const char *env[] = {"EMBEDDING_PROVIDER=openai",
	                     "EMBEDDING_MODEL=fake-embed",
	                     "EMBEDDING_DIM=32",
	                     base,
	                     "OPENAI_API_KEY=sk-test",
	                     "AI_TIMEOUT_SECONDS=30",
	                     "AI_MAX_RETRIES=3",
	                     "AI_QUERY_TIMEOUT_SECONDS=1",
	                     NULL};
	setup(env);
	seed(me.access);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	fake_openai_set_delay_ms(fake, 20000);
	fake_openai_set_endpoint_mode(fake, FAKE_EP_EMBEDDINGS, FAKE_SLOW, FAKE_ALWAYS);

	struct http_resp r;
	search(me.access, "kubectl pods", NULL, &r);
	check_shape(&r, "hybrid", "hybrid with a slow provider");
	cr_assert_lt(r.elapsed_ms, 5000, "hybrid waited %.0f ms", r.elapsed_ms);
	cr_assert(has_result(&r, corpus[1]), "the keyword hit is missing: %.300s", r.body);
	json_t *fb = json_object_get(r.json, "fallback");
	cr_assert(json_is_object(fb), "no fallback notice: %.300s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(fb, "mode")), "keyword");
	const char *why = json_string_value(json_object_get(fb, "reason"));
	cr_assert(why && it_contains(why, "timed out", false), "reason: %s", why ? why : "(none)");
	http_resp_free(&r);

	search(me.access, "kubectl pods", "mode=semantic", &r);
	cr_assert_eq(r.status, 503, "semantic with a slow provider: %d %.300s", r.status, r.body);
	cr_assert_lt(r.elapsed_ms, 5000, "semantic waited %.0f ms", r.elapsed_ms);
	http_resp_free(&r);

	/* When the provider answers, no notice. */
	fake_openai_set_endpoint_mode(fake, FAKE_EP_EMBEDDINGS, FAKE_OK, FAKE_ALWAYS);
	search(me.access, "kubectl pods", NULL, &r);
	cr_assert_null(json_object_get(r.json, "fallback"), "%.300s", r.body);
	http_resp_free(&r);
	free(base);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* CLI */

Test(search, cli_search_reads_the_same_database)
{
	setup_corpus();
	struct cli_result c;
	cli_run(&c, srv.dir, NULL, NULL, "search", "--user", me.email, "kubectl pods", NULL);
	cr_assert_eq(c.status, 0, "vault search: exit %d\n%s%s", c.status, c.out, c.err);
	cr_assert(strncmp(c.out, "1. Kubernetes deployment notes", 30) == 0,
	          "vault search output:\n%s", c.out);
	cli_result_free(&c);

	cli_run(&c, srv.dir, NULL, NULL, "search", "--user", me.email, "--mode", "keyword", "--tag",
	        "travel", "castle", NULL);
	cr_assert_eq(c.status, 0, "exit %d: %s", c.status, c.err);
	cr_assert(it_contains(c.out, "Trip to Lisbon", false), "%s", c.out);
	cr_assert(!it_contains(c.out, "Kubernetes", false), "%s", c.out);
	cli_result_free(&c);

	cli_run(&c, srv.dir, NULL, NULL, "search", "--user", me.email,
	        "quantum chromodynamics lattice", NULL);
	cr_assert_eq(c.status, 0, "exit %d: %s", c.status, c.err);
	cr_assert(it_contains(c.out, "No matching notes", false), "%s", c.out);
	cli_result_free(&c);

	cli_run(&c, srv.dir, NULL, NULL, "search", "--user", me.email, "--top-k", "21", "x", NULL);
	cr_assert_neq(c.status, 0, "--top-k 21 accepted");
	cli_result_free(&c);

	/* What the server writes now, the CLI (another process) reads at once. */
	add(me.access, "Fresh note", "Zeppelins float over the harbour.", NULL);
	cli_run(&c, srv.dir, NULL, NULL, "search", "--user", me.email, "--mode", "keyword",
	        "zeppelins", NULL);
	cr_assert(it_contains(c.out, "Fresh note", false), "%s", c.out);
	cli_result_free(&c);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Review fixes */

Test(search, keyword_scores_do_not_reveal_other_users_words)
{
	setup(NULL);
	user_new(&srv, &other);
	add(me.access, "Zebra crossing", "The stripes on the zebra crossing were repainted.", NULL);
	add(me.access, "Shirt", "A shirt with thin stripes and a collar.", NULL);
	struct http_resp r;
	search(me.access, "stripes", "mode=keyword", &r);
	cr_assert_eq(nresults(&r), 2, "%.300s", r.body);
	double before0 = result_num(&r, 0, "score"), before1 = result_num(&r, 1, "score");
	http_resp_free(&r);
	for (int i = 0; i < 20; i++) {
		char title[32];
		snprintf(title, sizeof(title), "Stripes %d", i);
		add(other.access, title, "stripes stripes stripes everywhere", NULL);
	}
	search(me.access, "stripes", "mode=keyword", &r);
	cr_assert_eq(nresults(&r), 2, "%.300s", r.body);
	cr_assert_float_eq(result_num(&r, 0, "score"), before0, 1e-9,
	                   "another user's notes changed my scores: %.300s", r.body);
	cr_assert_float_eq(result_num(&r, 1, "score"), before1, 1e-9, "%.300s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/*
 * The order of my keyword results comes from my notes alone. Among mine,
 * "ferry" is the rarer of the two words, so the note with it ranks first.
 * Another user then writes "ferry" in many notes: in an index whose
 * statistics span users it would become the common word, and the visa notes
 * would overtake the ferry one, telling me what the other user writes.
 */
Test(search, keyword_order_uses_only_my_own_notes)
{
	setup(NULL);
	user_new(&srv, &other);
	for (int i = 0; i < 5; i++)
		add(me.access, "Groceries", "Milk, eggs, bread and butter.", NULL);
	long long ferry = add(me.access, "Harbour day", "We took the ferry.", NULL);
	add(me.access, "Embassy day", "The visa arrived.", NULL);
	add(me.access, "Passport day", "Visa stamps again.", NULL);
	/* Hybrid's semantic side must see all of them before and after alike. */
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);

	struct http_resp r;
	search(me.access, "ferry visa", "mode=keyword", &r);
	check_shape(&r, "keyword", "before");
	cr_assert_eq(nresults(&r), 3, "%.500s", r.body);
	cr_assert_eq(result_id(&r, 0), ferry, "my rarer word does not rank first: %.500s", r.body);
	char *keyword_before = ids_of(&r);
	http_resp_free(&r);
	search(me.access, "ferry visa", "mode=hybrid", &r);
	check_shape(&r, "hybrid", "hybrid before");
	char *hybrid_before = ids_of(&r);
	http_resp_free(&r);

	for (int i = 0; i < 30; i++) {
		char title[32];
		snprintf(title, sizeof(title), "Ferry %d", i);
		add(other.access, title, "The ferry timetable, ferry fares and the ferry port.",
		    NULL);
	}
	search(me.access, "ferry visa", "mode=keyword", &r);
	check_shape(&r, "keyword", "after");
	char *keyword_after = ids_of(&r);
	cr_assert_str_eq(keyword_after, keyword_before,
	                 "another user's notes reordered my keyword results: %.500s", r.body);
	http_resp_free(&r);
	search(me.access, "ferry visa", "mode=hybrid", &r);
	check_shape(&r, "hybrid", "hybrid after");
	char *hybrid_after = ids_of(&r);
	cr_assert_str_eq(hybrid_after, hybrid_before,
	                 "another user's notes reordered my hybrid results: %.500s", r.body);
	http_resp_free(&r);
	free(keyword_before);
	free(keyword_after);
	free(hybrid_before);
	free(hybrid_after);
	server_stop_ok(&srv);
}

Test(search, a_floor_the_caller_gives_holds_for_keyword_hits)
{
	setup_corpus();
	struct http_resp r;
	search(me.access, "kubectl pods", "min_similarity=0", &r);
	cr_assert_gt(nresults(&r), 0, "%.300s", r.body);
	http_resp_free(&r);
	search(me.access, "kubectl pods", "min_similarity=0.99", &r);
	for (size_t i = 0; i < nresults(&r); i++)
		cr_assert_geq(result_num(&r, i, "similarity"), 0.99,
		              "a hit under the floor the caller set: %.300s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(search, exact_title_lift_keeps_punctuation)
{
	setup(NULL);
	long long cpp = add(me.access, "C++", "Templates, RAII and the standard library.", NULL);
	long long cs = add(me.access, "C#", "LINQ, async and the .NET runtime.", NULL);
	struct http_resp r;
	search(me.access, "C#", NULL, &r); /* hybrid: fused scores are far below the lift's 1 */
	cr_assert_gt(nresults(&r), 0, "%.300s", r.body);
	cr_assert_eq(result_id(&r, 0), cs, "C# is not first: %.300s", r.body);
	for (size_t i = 0; i < nresults(&r); i++)
		if (result_id(&r, i) == cpp)
			cr_assert_lt(result_num(&r, i, "score"), 1.0,
			             "C++ got the exact-title lift");
	http_resp_free(&r);
	server_stop_ok(&srv);
}
