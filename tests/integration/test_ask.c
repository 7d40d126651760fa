/*
 * test_ask.c - POST /api/v1/ask through the real server, answered by the
 * fake OpenAI-compatible server in tests/common: the prompt's numbered
 * sources, citations checked against the answer, no model call when
 * nothing is relevant, 503 when no model is configured or the provider is
 * slow, failing or down (with notes and search unaffected), Server-Sent
 * Events with {"stream": true}, validation, isolation between users, and
 * `vault ask`.
 *
 * Embeddings come from the local embedder; only the chat endpoint is fake.
 */
#include "integration/harness.h"

#include "common/fake_openai.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct server srv;
static struct it_user me, other;
static struct fake_openai *fake;
static char *base_kv; /* "OPENAI_BASE_URL=<fake>" */

static void cleanup(void)
{
	user_free(&me);
	user_free(&other);
	server_cleanup(&srv);
	fake_openai_stop(fake);
	fake = NULL;
	free(base_kv);
	base_kv = NULL;
}

TestSuite(ask, .fini = cleanup, .timeout = IT_TIMEOUT(90));

/* The fixed answer when no note is relevant (services/rag.h ASK_NOTHING_FOUND). */
#define NOTHING_FOUND "Your notes don't seem to contain anything about this."

/* ------------------------------------------------------------------ */
/* Helpers */

/* Starts the fake and a server asking it for answers, with extra settings (NULL-terminated). */
static void setup_llm(const char *const *more)
{
	const char *url = fake_openai_start(&fake);
	cr_assert(url, "the fake OpenAI server did not start");
	base_kv = it_asprintf("OPENAI_BASE_URL=%s", url);
	const char *env[24] = {"LLM_PROVIDER=openai",
	                       "LLM_MODEL=fake-chat",
	                       "AI_TIMEOUT_SECONDS=1",
	                       "AI_MAX_RETRIES=0",
	                       "VAULT_TEST_AI_BACKOFF_MS=5",
	                       "VAULT_TEST_AI_COOLDOWN_MS=1500",
	                       base_kv};
	size_t n = 7;
	for (size_t i = 0; more && more[i] && n < 23; i++)
		env[n++] = more[i];
	env[n] = NULL;
	server_start(&srv, env);
	user_new(&srv, &me);
}

static long long add(const char *token, const char *title, const char *content, const char *tag)
{
	char *body =
	    tag ? it_jpack("{s:s, s:s, s:[s]}", "title", title, "content", content, "tags", tag)
	        : it_jpack("{s:s, s:s}", "title", title, "content", content);
	long long id = note_create(&srv, token, body);
	free(body);
	return id;
}

static int ask(const char *token, const char *body, struct http_resp *r)
{
	return api(&srv, "POST", "/api/v1/ask", token, body, r);
}

/* POST /api/v1/ask {"question": q} as me. */
static int ask_q(const char *q, struct http_resp *r)
{
	char *body = it_jpack("{s:s}", "question", q);
	int st = ask(me.access, body, r);
	free(body);
	return st;
}

static json_t *citations(const struct http_resp *r)
{
	json_t *c = r->json ? json_object_get(r->json, "citations") : NULL;
	cr_assert(json_is_array(c), "no citations array: %.500s", r->body);
	return c;
}

/* The citation indices as "1,2". Caller frees. */
static char *cited(json_t *cits)
{
	char *out = it_strdup("");
	size_t i;
	json_t *c;
	json_array_foreach(cits, i, c)
	{
		char *n = it_asprintf("%s%s%lld", out, i ? "," : "",
		                      (long long)json_integer_value(json_object_get(c, "index")));
		free(out);
		out = n;
	}
	return out;
}

/* Asserts a 200 answer of the documented shape; returns the answer text (borrowed). */
static const char *check_answer(const struct http_resp *r, const char *what)
{
	cr_assert_eq(r->status, 200, "%s: status %d, body %.500s", what, r->status, r->body);
	const char *answer = resp_str(r, "answer");
	cr_assert(answer, "%s: no answer: %.300s", what, r->body);
	cr_assert(json_object_get(r->json, "model"), "%s: no model: %.300s", what, r->body);
	json_t *cits = citations(r);
	size_t i;
	json_t *c;
	json_array_foreach(cits, i, c)
	{
		cr_assert(json_is_integer(json_object_get(c, "index")), "%s: citation %zu index",
		          what, i);
		cr_assert(json_is_integer(json_object_get(c, "note_id")),
		          "%s: citation %zu note_id", what, i);
		cr_assert(json_is_string(json_object_get(c, "title")), "%s: citation %zu title",
		          what, i);
		const char *ex = json_string_value(json_object_get(c, "excerpt"));
		cr_assert(ex && *ex, "%s: citation %zu has no excerpt", what, i);
		cr_assert_leq(it_utf8_len(ex), 302, "%s: citation %zu excerpt too long", what, i);
		/* Every citation is cited in the answer as [n] (alone or in a list). */
		long long n = (long long)json_integer_value(json_object_get(c, "index"));
		char m1[32], m2[32], m3[32];
		snprintf(m1, sizeof(m1), "[%lld]", n);
		snprintf(m2, sizeof(m2), "[%lld,", n);
		snprintf(m3, sizeof(m3), " %lld]", n);
		cr_assert(strstr(answer, m1) || strstr(answer, m2) || strstr(answer, m3),
		          "%s: citation %lld is not cited in the answer: %s", what, n, answer);
	}
	return answer;
}

/* The user message of the last chat request (the prompt with the sources). Caller frees. */
static char *last_prompt(void)
{
	char *msgs = fake_openai_last_messages(fake);
	cr_assert(msgs, "the fake received no chat request");
	json_t *j = json_loads(msgs, 0, NULL);
	cr_assert(json_is_array(j), "messages: %s", msgs);
	char *out = NULL;
	size_t i;
	json_t *m;
	json_array_foreach(j, i, m)
	{
		const char *role = json_string_value(json_object_get(m, "role"));
		const char *content = json_string_value(json_object_get(m, "content"));
		if (role && content && strcmp(role, "user") == 0) {
			free(out);
			out = it_strdup(content);
		}
	}
	cr_assert(out, "no user message in %s", msgs);
	json_decref(j);
	free(msgs);
	return out;
}

/* Total bytes of every message's content in the last chat request. */
static size_t prompt_bytes(void)
{
	char *msgs = fake_openai_last_messages(fake);
	json_t *j = json_loads(msgs, 0, NULL);
	size_t total = 0, i;
	json_t *m;
	json_array_foreach(j, i, m)
	{
		total += strlen(json_string_value(json_object_get(m, "content")));
	}
	json_decref(j);
	free(msgs);
	return total;
}

/* One Server-Sent Event. */
struct sse_event {
	char event[32];
	json_t *data; /* parsed, NULL if not JSON */
};

/* Parses a whole event-stream body into at most cap events; returns the count. */
static size_t sse_parse(const char *body, struct sse_event *ev, size_t cap)
{
	size_t n = 0;
	const char *p = body;
	while (*p && n < cap) {
		const char *end = strstr(p, "\n\n");
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *frame = malloc(len + 1);
		cr_assert(frame);
		memcpy(frame, p, len);
		frame[len] = '\0';
		struct sse_event *e = &ev[n];
		memset(e, 0, sizeof(*e));
		char *data = NULL, *save = NULL;
		for (char *line = strtok_r(frame, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "event:", 6) == 0)
				snprintf(e->event, sizeof(e->event), "%s",
				         line + 6 + (line[6] == ' '));
			else if (strncmp(line, "data:", 5) == 0)
				data = line + 5 + (line[5] == ' ');
		}
		if (data)
			e->data = json_loads(data, 0, NULL);
		if (e->event[0] || data)
			n++;
		free(frame);
		if (!end)
			break;
		p = end + 2;
	}
	return n;
}

static void sse_free(struct sse_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(ev[i].data);
}

/* Two notes that answer "when and where is the team meeting". */
static long long meeting[2];

static void seed_meeting(void)
{
	meeting[0] = add(me.access, "Team meeting",
	                 "The weekly team meeting moved to Tuesday at 10 o'clock.", NULL);
	meeting[1] = add(me.access, "Meeting room",
	                 "The team meeting is held in room 4 on the second floor.", NULL);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
}

static const char meeting_q[] = "When and where is the team meeting?";

/* The note id behind source [n] of the prompt, found by its title; 0 if absent. */
static long long source_note(const char *prompt, int n)
{
	static const char *const titles[] = {"Team meeting", "Meeting room"};
	for (int i = 0; i < 2; i++) {
		char *head = it_asprintf("[%d] %s\n", n, titles[i]);
		bool found = strstr(prompt, head) != NULL;
		free(head);
		if (found)
			return meeting[i];
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Answers and citations */

Test(ask, answer_cites_numbered_sources)
{
	setup_llm(NULL);
	seed_meeting();
	struct http_resp r;
	ask_q(meeting_q, &r);
	const char *answer = check_answer(&r, "ask");
	cr_assert_str_eq(answer, FAKE_DEFAULT_ANSWER, "the answer was changed on the way");
	cr_assert_str_eq(resp_str(&r, "model") ? resp_str(&r, "model") : "(not a string)",
	                 "fake-chat");
	json_t *cits = citations(&r);
	char *idx = cited(cits);
	cr_assert_str_eq(idx, "1,2", "citations %s, expected 1,2: %.600s", idx, r.body);
	free(idx);

	/* The prompt: numbered sources, their text, then the question. */
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 1);
	char *prompt = last_prompt();
	cr_assert(strstr(prompt, meeting_q), "the question is not in the prompt:\n%s", prompt);
	cr_assert(strstr(prompt, "Tuesday at 10") && strstr(prompt, "room 4"),
	          "the notes' text is not in the prompt:\n%s", prompt);
	cr_assert(!strstr(prompt, "[3]"), "a third source out of two notes:\n%s", prompt);
	const char *q = strstr(prompt, meeting_q);
	cr_assert(strstr(prompt, "[1] ") < q && strstr(prompt, "[2] ") < q,
	          "sources must come before the question:\n%s", prompt);
	/* Each citation is the note that was source [index]. */
	for (size_t i = 0; i < json_array_size(cits); i++) {
		json_t *c = json_array_get(cits, i);
		int n = (int)json_integer_value(json_object_get(c, "index"));
		long long want = source_note(prompt, n);
		cr_assert_neq(want, 0, "source [%d] not found by title in the prompt:\n%s", n,
		              prompt);
		cr_assert_eq((long long)json_integer_value(json_object_get(c, "note_id")), want,
		             "citation [%d] points at note %lld, the prompt's [%d] is note %lld", n,
		             (long long)json_integer_value(json_object_get(c, "note_id")), n, want);
		const char *title = json_string_value(json_object_get(c, "title"));
		cr_assert_str_eq(title, want == meeting[0] ? "Team meeting" : "Meeting room");
	}
	free(prompt);
	/* The request named LLM_MODEL; a system message asks for [n] citations. */
	char *body = fake_openai_last_body(fake, FAKE_EP_CHAT);
	cr_assert(strstr(body, "fake-chat"), "LLM_MODEL not sent: %.300s", body);
	free(body);
	char *msgs = fake_openai_last_messages(fake);
	cr_assert(strstr(msgs, "\"role\":\"system\""), "no system message: %.300s", msgs);
	cr_assert(strstr(msgs, "[1]"), "%.300s", msgs);
	free(msgs);
	http_resp_free(&r);

	/* top_k bounds the sources. */
	char *one = it_jpack("{s:s, s:i}", "question", meeting_q, "top_k", 1);
	ask(me.access, one, &r);
	free(one);
	check_answer(&r, "top_k 1");
	prompt = last_prompt();
	cr_assert(strstr(prompt, "[1] ") && !strstr(prompt, "[2] "),
	          "top_k=1 gave more than one source:\n%s", prompt);
	free(prompt);
	idx = cited(citations(&r));
	cr_assert_str_eq(idx, "1", "with one source, [2] must be dropped: %s", idx);
	free(idx);
	cr_assert(!strstr(resp_str(&r, "answer"), "[2]"), "%s", resp_str(&r, "answer"));
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(ask, citations_list_exactly_the_valid_cited_sources)
{
	setup_llm(NULL);
	seed_meeting();
	struct {
		const char *model_says;
		const char *want_answer; /* NULL: only the checks below */
		const char *want_cited;
	} cases[] = {
	    {"Tuesday [1], and see [7].", "Tuesday [1], and see .", "1"},
	    {"Room 4 [2] only.", "Room 4 [2] only.", "2"},
	    {"Both [2, 9] and [0] and [1].", "Both [2] and  and [1].", "1,2"},
	    {"Nothing cited here.", "Nothing cited here.", ""},
	    {"An array [a, b] and [x] stay as written [1].",
	     "An array [a, b] and [x] stay as "
	     "written [1].",
	     "1"},
	    {"Twice [1][1] is one citation.", NULL, "1"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_openai_set_answer(fake, cases[i].model_says);
		struct http_resp r;
		ask_q(meeting_q, &r);
		const char *answer = check_answer(&r, cases[i].model_says);
		if (cases[i].want_answer)
			cr_expect_str_eq(answer, cases[i].want_answer, "model said \"%s\"",
			                 cases[i].model_says);
		cr_assert(!strstr(answer, "[7]") && !strstr(answer, "9]") && !strstr(answer, "[0]"),
		          "an invalid marker survived: %s", answer);
		char *idx = cited(citations(&r));
		cr_expect_str_eq(idx, cases[i].want_cited, "model said \"%s\": citations %s",
		                 cases[i].model_says, idx);
		free(idx);
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

Test(ask, nothing_relevant_skips_the_model)
{
	setup_llm(NULL);
	struct http_resp r;
	/* No notes at all. */
	ask_q("What did the notes say about quantum chromodynamics?", &r);
	check_answer(&r, "no notes");
	cr_assert_str_eq(resp_str(&r, "answer"), NOTHING_FOUND);
	cr_assert_eq(json_array_size(citations(&r)), 0);
	http_resp_free(&r);

	seed_meeting();
	ask_q("quantum chromodynamics lattice", &r);
	check_answer(&r, "unrelated");
	cr_assert_str_eq(resp_str(&r, "answer"), NOTHING_FOUND, "an unrelated question got: %.300s",
	                 r.body);
	cr_assert_eq(json_array_size(citations(&r)), 0, "%.300s", r.body);
	http_resp_free(&r);
	/* Streamed too. */
	ask(me.access, "{\"question\":\"quantum chromodynamics lattice\",\"stream\":true}", &r);
	cr_assert_eq(r.status, 200);
	struct sse_event ev[16];
	size_t n = sse_parse(r.body, ev, 16);
	char *text = it_strdup("");
	for (size_t i = 0; i < n; i++)
		if (strcmp(ev[i].event, "token") == 0) {
			char *t = it_asprintf(
			    "%s%s", text, json_string_value(json_object_get(ev[i].data, "text")));
			free(text);
			text = t;
		}
	cr_assert_str_eq(text, NOTHING_FOUND, "streamed: %.500s", r.body);
	free(text);
	sse_free(ev, n);
	http_resp_free(&r);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 0,
	             "the model was asked although no note is relevant");
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_ANY), 0);
	server_stop_ok(&srv);
}

Test(ask, tag_filter_limits_the_sources)
{
	setup_llm(NULL);
	long long work =
	    add(me.access, "Standup", "The team meeting is every morning at 9.", "work");
	add(me.access, "Family meeting", "The family meeting is on Sunday evening.", "home");
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	fake_openai_set_answer(fake, "Every morning at 9 [1], or on Sunday [2].");
	struct http_resp r;
	ask(me.access, "{\"question\":\"When is the meeting?\",\"tag\":\"work\"}", &r);
	check_answer(&r, "tag");
	char *prompt = last_prompt();
	cr_assert(strstr(prompt, "[1] Standup"), "the tagged note is not source 1:\n%s", prompt);
	cr_assert(!strstr(prompt, "Family meeting") && !strstr(prompt, "[2]"),
	          "a note without the tag became a source:\n%s", prompt);
	free(prompt);
	char *idx = cited(citations(&r));
	cr_assert_str_eq(idx, "1", "[2] has no source with the filter: %s", idx);
	free(idx);
	cr_assert_eq((long long)json_integer_value(
	                 json_object_get(json_array_get(citations(&r), 0), "note_id")),
	             work);
	http_resp_free(&r);

	/* All tags must match; none does: nothing found, no model call. */
	int before = fake_openai_requests(fake, FAKE_EP_CHAT);
	ask(me.access, "{\"question\":\"When is the meeting?\",\"tags\":[\"work\",\"home\"]}", &r);
	check_answer(&r, "tags");
	cr_assert_str_eq(resp_str(&r, "answer"), NOTHING_FOUND);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), before);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

static const char *const small_context[] = {"CONTEXT_TOKENS=400", NULL};

Test(ask, prompt_stays_within_context_tokens)
{
	setup_llm(small_context);
	for (int i = 0; i < 5; i++) {
		char *title = it_asprintf("Meeting minutes %d", i);
		char *content = it_strdup("");
		for (int k = 0; k < 20; k++) {
			char *n = it_asprintf(
			    "%sThe team meeting on day %d discussed item %d at length. ", content,
			    i, k);
			free(content);
			content = n;
		}
		add(me.access, title, content, NULL);
		free(title);
		free(content);
	}
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	struct http_resp r;
	ask_q("What did the team meeting discuss?", &r);
	check_answer(&r, "small context");
	http_resp_free(&r);
	size_t bytes = prompt_bytes();
	/* The server's own conservative estimate is 3 bytes a token. */
	cr_assert_leq(bytes, 400 * 3, "a prompt of %zu bytes for CONTEXT_TOKENS=400", bytes);
	char *prompt = last_prompt();
	cr_assert(strstr(prompt, "[1] "), "no source fits at all:\n%s", prompt);
	cr_assert(strstr(prompt, "What did the team meeting discuss?"), "the question was cut");
	cr_assert(!strstr(prompt, "[3] "), "five long sources in 400 tokens:\n%s", prompt);
	free(prompt);
	server_stop_ok(&srv);
}

Test(ask, long_questions_up_to_the_limit)
{
	setup_llm(NULL);
	seed_meeting();
	/* 1500 characters: within the question limit, longer than a search query. */
	char *words = it_repeat("meeting ", 187); /* 1496 characters */
	char *q = it_asprintf("%sroom", words);
	struct http_resp r;
	ask_q(q, &r);
	cr_expect_eq(r.status, 200, "a %zu-character question: %d %.300s", strlen(q), r.status,
	             r.body);
	http_resp_free(&r);
	free(q);
	free(words);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Streaming */

/* Asks with stream true; fills the events and returns their count. */
static size_t ask_stream(const char *question, struct http_resp *r, struct sse_event *ev,
                         size_t cap)
{
	char *body = it_jpack("{s:s, s:b}", "question", question, "stream", 1);
	ask(me.access, body, r);
	free(body);
	cr_assert_eq(r->status, 200, "stream: status %d %.300s", r->status, r->body);
	const char *ct = http_header(r, "Content-Type");
	cr_assert(ct && strncmp(ct, "text/event-stream", 17) == 0, "stream Content-Type: %s",
	          ct ? ct : "(none)");
	return sse_parse(r->body, ev, cap);
}

Test(ask, stream_relays_tokens_then_citations_and_done)
{
	setup_llm(NULL);
	seed_meeting();
	/* The fake sends "[" alone, so "[7]" and "[2]" arrive split across chunks. */
	fake_openai_set_answer(fake, "On Tuesday [1] in room 4 [2], not in room [7] as before.");
	struct http_resp r;
	struct sse_event ev[256];
	size_t n = ask_stream(meeting_q, &r, ev, 256);
	const char *want = "On Tuesday [1] in room 4 [2], not in room  as before.";

	char *text = it_strdup("");
	size_t tokens = 0, cit_at = 0, done_at = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ev[i].event, "token") == 0) {
			cr_assert_eq(cit_at, 0, "a token after the citations");
			json_t *t = json_object_get(ev[i].data, "text");
			cr_assert(json_is_string(t), "token %zu without text: %.300s", i, r.body);
			char *nt = it_asprintf("%s%s", text, json_string_value(t));
			free(text);
			text = nt;
			tokens++;
		} else if (strcmp(ev[i].event, "citations") == 0) {
			cit_at = i + 1;
		} else if (strcmp(ev[i].event, "done") == 0) {
			done_at = i + 1;
		} else {
			cr_fatal("unexpected event \"%s\" in:\n%.1000s", ev[i].event, r.body);
		}
	}
	cr_assert_gt(tokens, 3, "only %zu token events: not streamed", tokens);
	cr_assert_str_eq(text, want, "the tokens concatenate to \"%s\"", text);
	cr_assert(cit_at && done_at && cit_at < done_at && done_at == n,
	          "expected tokens, then citations, then done last:\n%.1000s", r.body);
	json_t *cd = ev[cit_at - 1].data;
	json_t *cits = json_object_get(cd, "citations");
	cr_assert(json_is_array(cits), "citations event: %.300s", r.body);
	char *idx = cited(cits);
	cr_assert_str_eq(idx, "1,2", "streamed citations %s", idx);
	free(idx);
	json_t *model = json_object_get(cd, "model");
	cr_assert(json_is_string(model) && strcmp(json_string_value(model), "fake-chat") == 0,
	          "citations event model: %.300s", r.body);
	const char *done_answer =
	    json_string_value(json_object_get(ev[done_at - 1].data, "answer"));
	cr_assert(done_answer && strcmp(done_answer, text) == 0,
	          "done carries \"%s\", the tokens \"%s\"", done_answer, text);
	sse_free(ev, n);
	http_resp_free(&r);

	/* The same question unstreamed gives the same answer and citations. */
	ask_q(meeting_q, &r);
	cr_assert_str_eq(check_answer(&r, "unstreamed"), want);
	idx = cited(citations(&r));
	cr_assert_str_eq(idx, "1,2");
	free(idx);
	http_resp_free(&r);
	free(text);
	server_stop_ok(&srv);
}

Test(ask, stream_passes_any_text_and_any_marker_whole)
{
	setup_llm(NULL);
	seed_meeting();
	/* Once "[ü" went out a byte at a time and aborted the server; a long
	 * "[1,1,...]" overflowed the filter's buffer. */
	fake_openai_set_answer(fake,
	                       "Das ist [über] alles, [é [日本] 😀 [1,1,1,1,1,1,1,1,1,1,1,1,1] "
	                       "und [2,1,2,1,2,1,2,1,2,1,2,1,2,1].");
	const char *want = "Das ist [über] alles, [é [日本] 😀 [1] und [2, 1].";
	struct http_resp r;
	struct sse_event ev[256];
	size_t n = ask_stream(meeting_q, &r, ev, 256);
	char *text = it_strdup("");
	for (size_t i = 0; i < n; i++) {
		cr_assert(strcmp(ev[i].event, "error") != 0, "an error event:\n%.1000s", r.body);
		if (strcmp(ev[i].event, "token") != 0)
			continue;
		char *nt = it_asprintf("%s%s", text,
		                       json_string_value(json_object_get(ev[i].data, "text")));
		free(text);
		text = nt;
	}
	cr_assert_str_eq(text, want, "the tokens concatenate to \"%s\"", text);
	cr_assert_str_eq(ev[n - 1].event, "done", "the stream ends with %s", ev[n - 1].event);
	sse_free(ev, n);
	http_resp_free(&r);
	free(text);

	/* The server lives on, and the unstreamed answer is the same. */
	ask_q(meeting_q, &r);
	cr_assert_str_eq(check_answer(&r, "unstreamed"), want);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

struct bg_ask {
	struct http_resp r;
};

static void *ask_in_background(void *arg)
{
	struct bg_ask *b = arg;
	char *body = it_jpack("{s:s, s:b}", "question", meeting_q, "stream", 1);
	struct http_req q = {.method = "POST",
	                     .path = "/api/v1/ask",
	                     .token = me.access,
	                     .body = body,
	                     .body_len = strlen(body),
	                     .timeout_ms = 120000};
	http_do(srv.base_url, &q, &b->r);
	free(body);
	return NULL;
}

Test(ask, shutdown_ends_a_stream_stuck_in_a_silent_provider)
{
	/* The provider sends a little, then nothing for a minute. The server
	 * stops after its grace period, not when the provider gives up. */
	const char *more[] = {"AI_TIMEOUT_SECONDS=60", "SHUTDOWN_GRACE_SECONDS=1", NULL};
	setup_llm(more);
	seed_meeting();
	fake_openai_set_delay_ms(fake, 60000);
	fake_openai_set_endpoint_mode(fake, FAKE_EP_CHAT, FAKE_STALL, FAKE_ALWAYS);
	struct bg_ask b = {0};
	pthread_t t;
	pthread_create(&t, NULL, ask_in_background, &b);
	double deadline = it_now_ms() + 10000;
	while (fake_openai_requests(fake, FAKE_EP_CHAT) == 0 && it_now_ms() < deadline)
		it_sleep_ms(20);
	it_sleep_ms(300); /* the stalled answer has begun */
	double t0 = it_now_ms();
	server_signal(&srv, SIGTERM);
	int status = server_wait(&srv, 20000);
	double took = it_now_ms() - t0;
	cr_assert_eq(status, 0, "exit status %d after %.0f ms", status, took);
	cr_assert_lt(took, 5000, "stopping took %.0f ms with a silent provider", took);
	pthread_join(t, NULL);
	http_resp_free(&b.r);
}

Test(ask, stream_failure_ends_with_an_error)
{
	setup_llm(NULL);
	seed_meeting();
	fake_openai_set_endpoint_mode(fake, FAKE_EP_CHAT, FAKE_500, FAKE_ALWAYS);
	struct http_resp r;
	ask(me.access, "{\"question\":\"When and where is the team meeting?\",\"stream\":true}",
	    &r);
	cr_assert_lt(r.elapsed_ms, 5000, "took %.0f ms", r.elapsed_ms);
	if (r.status == 503) {
		assert_error_body(&r, "stream 503");
	} else {
		cr_assert_eq(r.status, 200, "%d %.300s", r.status, r.body);
		struct sse_event ev[64];
		size_t n = sse_parse(r.body, ev, 64);
		cr_assert_gt(n, 0, "an empty stream");
		cr_assert_str_eq(ev[n - 1].event, "error",
		                 "the stream does not end in an error:\n%s", r.body);
		const char *d = json_string_value(json_object_get(ev[n - 1].data, "detail"));
		cr_assert(d && strncmp(d, "AI service unavailable", 22) == 0, "error detail: %s",
		          r.body);
		for (size_t i = 0; i < n; i++)
			cr_assert(strcmp(ev[i].event, "done") && strcmp(ev[i].event, "citations"),
			          "a failed stream announced %s", ev[i].event);
		sse_free(ev, n);
	}
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Unavailable */

Test(ask, no_llm_is_503_while_the_rest_works)
{
	server_start(&srv, NULL); /* LLM_PROVIDER defaults to none */
	user_new(&srv, &me);
	long long id = add(me.access, "Team meeting", "Tuesday at 10 in room 4.", NULL);
	struct http_resp r;
	ask_q("When is the meeting?", &r);
	cr_assert_eq(r.status, 503, "ask without an LLM: %d %.300s", r.status, r.body);
	assert_error_body(&r, "no llm");
	cr_assert(strncmp(resp_str(&r, "detail"), "AI service unavailable: ", 24) == 0,
	          "detail: %s", resp_str(&r, "detail"));
	cr_assert_lt(r.elapsed_ms, 1000, "503 took %.0f ms", r.elapsed_ms);
	http_resp_free(&r);

	/* Streaming refuses while it still can: a JSON 503, not an event stream. */
	ask(me.access, "{\"question\":\"When is the meeting?\",\"stream\":true}", &r);
	cr_assert_eq(r.status, 503, "streamed ask without an LLM: %d %.300s", r.status, r.body);
	assert_error_body(&r, "no llm stream");
	cr_assert(strncmp(resp_str(&r, "detail"), "AI service unavailable: ", 24) == 0);
	http_resp_free(&r);

	/* Everything else works. */
	note_wait_status(&srv, me.access, id, "ready", EMBED_TIMEOUT_MS);
	cr_assert_eq(note_get(&srv, me.access, id, &r), 200);
	http_resp_free(&r);
	char path[64];
	snprintf(path, sizeof(path), "/api/v1/notes/%lld", id);
	api(&srv, "PUT", path, me.access, "{\"content\":\"Wednesday at 11 in room 5.\"}", &r);
	cr_assert_eq(r.status, 200);
	http_resp_free(&r);
	api(&srv, "GET", "/api/v1/search?query=wednesday%20room", me.access, NULL, &r);
	cr_assert_eq(r.status, 200, "search without an LLM: %d", r.status);
	cr_assert(strstr(r.body, "Team meeting"), "%.300s", r.body);
	http_resp_free(&r);
	http(&srv, "GET", "/ready", NULL, NULL, &r);
	cr_assert_eq(r.status, 200);
	http_resp_free(&r);
	api(&srv, "DELETE", path, me.access, NULL, &r);
	cr_assert_eq(r.status, 204);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

static const char *const one_retry[] = {"AI_MAX_RETRIES=1", NULL};

Test(ask, slow_provider_is_503_in_bounded_time)
{
	setup_llm(one_retry);
	seed_meeting();
	fake_openai_set_delay_ms(fake, 5000);
	static const enum fake_mode modes[] = {FAKE_SLOW, FAKE_STALL};
	for (int m = 0; m < 2; m++) {
		fake_openai_set_endpoint_mode(fake, FAKE_EP_CHAT, modes[m], FAKE_ALWAYS);
		struct http_resp r;
		ask_q(meeting_q, &r);
		cr_assert_eq(r.status, 503, "mode %d: %d %.300s", m, r.status, r.body);
		assert_error_body(&r, "slow");
		cr_assert(strncmp(resp_str(&r, "detail"), "AI service unavailable", 22) == 0);
		cr_assert_lt(r.elapsed_ms, 5000,
		             "mode %d: 503 after %.0f ms with AI_TIMEOUT_SECONDS=1", m,
		             r.elapsed_ms);
		http_resp_free(&r);

		/* Streamed: the stream ends in bounded time too. */
		ask(me.access,
		    "{\"question\":\"When and where is the team meeting?\",\"stream\":true}", &r);
		cr_assert(r.status == 503 || r.status == 200, "%d", r.status);
		cr_assert_lt(r.elapsed_ms, 5000, "mode %d: the stream took %.0f ms", m,
		             r.elapsed_ms);
		if (r.status == 200)
			cr_assert(strstr(r.body, "event: error") && !strstr(r.body, "event: done"),
			          "mode %d: a stalled stream: %.500s", m, r.body);
		http_resp_free(&r);
	}
	/* Search and notes kept answering meanwhile and still do. */
	struct http_resp r;
	api(&srv, "GET", "/api/v1/search?query=meeting", me.access, NULL, &r);
	cr_assert_eq(r.status, 200);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

static const char *const two_retries[] = {"AI_MAX_RETRIES=2", NULL};

Test(ask, provider_errors_are_503_after_retries)
{
	setup_llm(two_retries);
	seed_meeting();
	static const enum fake_mode modes[] = {FAKE_500, FAKE_TRUNCATED, FAKE_INVALID_JSON,
	                                       FAKE_DISCONNECT};
	static const char *const names[] = {"500", "truncated", "invalid JSON", "disconnect"};
	for (int m = 0; m < 4; m++) {
		fake_openai_reset_counters(fake);
		fake_openai_set_endpoint_mode(fake, FAKE_EP_CHAT, modes[m], FAKE_ALWAYS);
		struct http_resp r;
		ask_q(meeting_q, &r);
		cr_assert_eq(r.status, 503, "%s: %d %.300s", names[m], r.status, r.body);
		assert_error_body(&r, names[m]);
		cr_assert(strncmp(resp_str(&r, "detail"), "AI service unavailable", 22) == 0,
		          "%s: detail %s", names[m], resp_str(&r, "detail"));
		cr_assert_lt(r.elapsed_ms, 5000, "%s: %.0f ms", names[m], r.elapsed_ms);
		if (modes[m] == FAKE_500)
			cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 3,
			             "500: %d requests with AI_MAX_RETRIES=2, expected 3",
			             fake_openai_requests(fake, FAKE_EP_CHAT));
		http_resp_free(&r);
	}
	/*
	 * Four failed requests in a row, one short of opening the breaker:
	 * 500 twice, then fine, and the retries hide it.
	 */
	fake_openai_reset_counters(fake);
	fake_openai_set_endpoint_mode(fake, FAKE_EP_CHAT, FAKE_500, 2);
	struct http_resp r;
	ask_q(meeting_q, &r);
	check_answer(&r, "recovered");
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 3);
	http_resp_free(&r);

	/* A Retry-After longer than the client will wait ends the request at once. */
	fake_openai_reset_counters(fake);
	fake_openai_set_endpoint_mode(fake, FAKE_EP_CHAT, FAKE_429, FAKE_ALWAYS);
	fake_openai_set_retry_after(fake, 120);
	ask_q(meeting_q, &r);
	cr_assert_eq(r.status, 503, "429 Retry-After 120: %d %.300s", r.status, r.body);
	cr_assert_lt(r.elapsed_ms, 5000, "waited %.0f ms on Retry-After: 120", r.elapsed_ms);
	http_resp_free(&r);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 1,
	             "Retry-After: 120 was waited for");
	server_stop_ok(&srv);
}

Test(ask, breaker_stops_calling_then_recovers)
{
	setup_llm(NULL); /* AI_MAX_RETRIES=0: one request per question */
	seed_meeting();
	fake_openai_set_endpoint_mode(fake, FAKE_EP_CHAT, FAKE_500, FAKE_ALWAYS);
	struct http_resp r;
	for (int i = 0; i < 5; i++) {
		ask_q(meeting_q, &r);
		cr_assert_eq(r.status, 503, "ask %d: %d", i, r.status);
		http_resp_free(&r);
	}
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 5);
	/* Open: the next question fails at once without reaching the provider. */
	ask_q(meeting_q, &r);
	cr_assert_eq(r.status, 503, "%d", r.status);
	cr_assert(strncmp(resp_str(&r, "detail"), "AI service unavailable", 22) == 0);
	http_resp_free(&r);
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 5,
	             "the breaker let a request through while open");
	/* After the cool-down, one trial decides; the provider is back. */
	fake_openai_set_endpoint_mode(fake, FAKE_EP_CHAT, FAKE_OK, FAKE_ALWAYS);
	it_sleep_ms(1700);
	ask_q(meeting_q, &r);
	check_answer(&r, "after cool-down");
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Validation and isolation */

Test(ask, validation_422)
{
	setup_llm(NULL);
	char *q2001 = it_repeat("a", 2001);
	char *b2001 = it_jpack("{s:s}", "question", q2001);
	const char *bad[] = {
	    "{}",
	    "{\"question\":\"\"}",
	    "{\"question\":42}",
	    "{\"question\":null}",
	    "{\"question\":\"bell\\u0007\"}",
	    "{\"question\":\"   \"}",
	    "{\"question\":\"x\",\"top_k\":0}",
	    "{\"question\":\"x\",\"top_k\":21}",
	    "{\"question\":\"x\",\"top_k\":\"3\"}",
	    "{\"question\":\"x\",\"top_k\":1.5}",
	    "{\"question\":\"x\",\"stream\":\"yes\"}",
	    "{\"question\":\"x\",\"tags\":\"work\"}",
	    "{\"question\":\"\",\"stream\":true}",
	    "{\"question\":\"x\",\"top_k\":0,\"stream\":true}",
	    b2001,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_resp r;
		ask(me.access, bad[i], &r);
		cr_expect_eq(r.status, 422, "%.100s: status %d, expected 422 (%.300s)", bad[i],
		             r.status, r.body);
		if (r.status == 422)
			assert_error_body(&r, bad[i]);
		http_resp_free(&r);
	}
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_ANY), 0,
	             "an invalid request reached the model");
	struct http_resp r;
	ask(NULL, "{\"question\":\"x\"}", &r);
	cr_assert_eq(r.status, 401);
	http_resp_free(&r);
	free(q2001);
	free(b2001);
	server_stop_ok(&srv);
}

Test(ask, never_another_users_notes)
{
	setup_llm(NULL);
	user_new(&srv, &other);
	long long secret =
	    add(other.access, "Project Falcon launch",
	        "Project Falcon launches on March 3; the codename is Bluebird.", NULL);
	add(me.access, "Garden", "Project list for the garden: a falcon-proof fence for the hens.",
	    NULL);
	/* Theirs match the question far better than mine. */
	long long theirs[7] = {secret};
	for (int i = 1; i < 7; i++)
		theirs[i] = add(
		    other.access, "When does Project Falcon launch",
		    "Project Falcon launch: Project Falcon launches on March 3 (Bluebird).", NULL);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	index_wait_settled(&srv, other.access, EMBED_TIMEOUT_MS, &ix);
	fake_openai_set_answer(fake, "It launches on March 3 [1], see also [2].");

	struct http_resp r;
	ask_q("When does Project Falcon launch?", &r);
	check_answer(&r, "mine");
	cr_assert(!strstr(r.body, "Bluebird") && !strstr(r.body, "Project Falcon launch\""),
	          "another user's note in my answer: %.500s", r.body);
	json_t *cits = citations(&r);
	for (size_t i = 0; i < json_array_size(cits); i++)
		for (int k = 0; k < 7; k++)
			cr_assert_neq((long long)json_integer_value(
			                  json_object_get(json_array_get(cits, i), "note_id")),
			              theirs[k], "cited another user's note");
	http_resp_free(&r);
	/* My own note is found, and is the only source. */
	cr_assert_eq(fake_openai_requests(fake, FAKE_EP_CHAT), 1,
	             "my matching note did not reach the model");
	char *prompt = last_prompt();
	cr_assert(!strstr(prompt, "Bluebird") && !strstr(prompt, "March 3"),
	          "another user's note went into my prompt:\n%s", prompt);
	cr_assert(strstr(prompt, "[1] Garden"), "my note is not source 1:\n%s", prompt);
	free(prompt);

	/* The owner does get it: the setup can find it at all. */
	char *body = it_jpack("{s:s}", "question", "When does Project Falcon launch?");
	ask(other.access, body, &r);
	free(body);
	check_answer(&r, "theirs");
	cits = citations(&r);
	cr_assert_geq(json_array_size(cits), 1, "%.300s", r.body);
	bool ours = false;
	for (int k = 0; k < 7; k++)
		ours |= (long long)json_integer_value(
		            json_object_get(json_array_get(cits, 0), "note_id")) == theirs[k];
	cr_assert(ours, "the owner's citation is not one of the owner's notes: %.300s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* CLI */

Test(ask, cli_ask_streams_and_lists_citations)
{
	setup_llm(NULL);
	seed_meeting();
	struct cli_result c;
	cli_run(&c, srv.dir, (const char *const *)srv.extra_env, NULL, "ask", "--user", me.email,
	        meeting_q, NULL);
	cr_assert_eq(c.status, 0, "vault ask: exit %d\n%s%s", c.status, c.out, c.err);
	cr_assert(strstr(c.out, FAKE_DEFAULT_ANSWER), "vault ask printed:\n%s", c.out);
	cr_assert(strstr(c.out, "[1] ") && strstr(c.out, "[2] "), "no citation list:\n%s", c.out);
	cli_result_free(&c);

	/* Without an LLM: an error, exit 1. */
	server_setenv(&srv, "LLM_PROVIDER=none");
	cli_run(&c, srv.dir, (const char *const *)srv.extra_env, NULL, "ask", "--user", me.email,
	        meeting_q, NULL);
	cr_assert_eq(c.status, 1, "vault ask without an LLM: exit %d", c.status);
	cr_assert(strstr(c.err, "AI service unavailable"), "stderr: %s", c.err);
	cli_result_free(&c);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Review fixes */

Test(ask, long_multibyte_titles_are_cut_nowhere)
{
	setup_llm(NULL);
	/* 70 characters of three bytes each: 210 bytes. */
	char title[256] = "";
	for (int i = 0; i < 70; i++)
		strcat(title, "\xe6\x97\xa5");
	add(me.access, title, "The sakura festival starts on the first of April.", NULL);
	struct http_resp r;
	cr_assert_eq(ask_q("When does the sakura festival start?", &r), 200, "%d %.300s", r.status,
	             r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(ask, streamed_questions_are_checked_before_streaming)
{
	setup_llm(NULL);
	struct http_resp r;
	const char *bad[] = {"{\"question\":\"???\",\"stream\":true}",
	                     "{\"question\":\"when\",\"stream\":true,\"tag\":[\"  \"]}"};
	for (size_t i = 0; i < 2; i++) {
		ask(me.access, bad[i], &r);
		cr_assert_eq(r.status, 422, "%s: %d %.200s", bad[i], r.status, r.body);
		assert_error_body(&r, bad[i]);
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

Test(ask, a_stream_whose_client_stops_reading_ends)
{
	/* The events of a long answer (a dozen bytes of stream per byte of
	 * answer, in the fake's short pieces) pass what the sockets hold and
	 * the server's backlog for one client (4 MiB, http/stream.c). The fake
	 * takes a while to cut so long an answer into its pieces. */
	const char *more[] = {"AI_TIMEOUT_SECONDS=30", NULL};
	setup_llm(more);
	seed_meeting();
	char *answer = it_repeat("word ", 200000);
	fake_openai_set_answer(fake, answer);
	fake_openai_set_chunk_delay_ms(fake, 0);
	free(answer);

	char *body = it_jpack("{s:s, s:b}", "question", meeting_q, "stream", 1);
	char *req = it_asprintf("POST /api/v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                        "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	                        "Content-Length: %zu\r\n\r\n%s",
	                        me.access, strlen(body), body);
	int fd = tcp_connect(&srv);
	cr_assert_geq(fd, 0, "cannot connect");
	cr_assert(tcp_send_all(fd, req, strlen(req)));
	free(req);
	free(body);

	/* Never read: the server gives up on this client instead of holding
	 * the rest of the answer for it. */
	char *log = NULL;
	double deadline = it_now_ms() + 60000;
	while (it_now_ms() < deadline) {
		free(log);
		log = server_log(&srv);
		if (strstr(log, "\"event\":\"sse_client_behind\""))
			break;
		it_sleep_ms(100);
	}
	cr_assert(strstr(log, "\"event\":\"sse_client_behind\""),
	          "the server still holds the stream of a client that reads nothing: %s",
	          log + (strlen(log) > 3000 ? strlen(log) - 3000 : 0));
	const char *line = strstr(log, "\"event\":\"sse_client_behind\"");
	const char *unread = strstr(line, "\"unread_bytes\":");
	cr_assert(unread && strtoll(unread + 15, NULL, 10) > 4 * 1024 * 1024, "%.200s", line);
	free(log);
	close(fd);

	struct http_resp r;
	cr_assert_eq(http(&srv, "GET", "/health", NULL, NULL, &r), 200);
	http_resp_free(&r);
}

/* A source names the headings above its passage (an imported PDF's page), in the prompt and the
 * citation. */
Test(ask, sources_and_citations_name_their_section)
{
	setup_llm(NULL);
	add(me.access, "Board minutes",
	    "# March\n\nNothing was decided.\n\n## Decisions\n\nThe team meeting moves to room 9 "
	    "on Thursdays.",
	    NULL);
	struct it_index ix;
	index_wait_settled(&srv, me.access, EMBED_TIMEOUT_MS, &ix);
	struct http_resp r;
	ask_q("Where does the team meeting move to?", &r);
	check_answer(&r, "ask");
	char *prompt = last_prompt();
	cr_assert(strstr(prompt, "[1] Board minutes (March > Decisions)\n"),
	          "the source does not name its section:\n%s", prompt);
	free(prompt);
	json_t *c = json_array_get(citations(&r), 0);
	cr_assert(c, "no citation: %.500s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(c, "section")), "March > Decisions");
	http_resp_free(&r);
	server_stop_ok(&srv);
}
