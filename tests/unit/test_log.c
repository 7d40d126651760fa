/*
 * test_log.c - structured log lines (core/log.c): one JSON object a line,
 * with ts, level and event first, whatever the length of the fields.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static FILE *out;

static void setup(void)
{
	out = tmpfile();
	cr_assert_not_null(out);
}

static void teardown(void)
{
	log_init(LOG_INFO, LOG_JSON, NULL);
	fclose(out);
}

TestSuite(log, .init = setup, .fini = teardown);

/* The lines written so far, as one string (the caller frees it). */
static char *written(void)
{
	long n = ftell(out);
	char *text = calloc(1, (size_t)n + 1);
	rewind(out);
	cr_assert_eq(fread(text, 1, (size_t)n, out), (size_t)n);
	return text;
}

/* Parses a line as a JSON object and checks its first keys. */
static json_t *parse_line(const char *line, const char *event, const char *level)
{
	json_error_t e;
	json_t *o = json_loads(line, 0, &e);
	cr_assert_not_null(o, "not JSON (%s): %.200s", e.text, line);
	cr_assert(json_is_object(o));
	const char *key = json_object_iter_key(json_object_iter(o));
	cr_assert_str_eq(key, "ts", "the line starts with %s", key);
	cr_assert_str_eq(json_string_value(json_object_get(o, "event")), event);
	cr_assert_str_eq(json_string_value(json_object_get(o, "level")), level);
	cr_assert_eq(strlen(json_string_value(json_object_get(o, "ts"))), 24);
	return o;
}

Test(log, json_lines_hold_the_fields_of_any_length)
{
	log_init(LOG_INFO, LOG_JSON, out);
	char *long_path = calloc(1, 10001);
	memset(long_path, 'p', 10000);
	log_emit(LOG_INFO, "request",
	         json_pack("{s:s,s:i,s:f,s:n}", "path", "/a\"b\n", "status", 200, "latency_ms", 1.5,
	                   "user_id"));
	log_emit(LOG_WARNING, "plain", NULL);
	log_emit(LOG_ERROR, "empty", json_object());
	log_emit(LOG_INFO, "long", json_pack("{s:s}", "path", long_path));
	log_emit(LOG_DEBUG, "hidden", json_pack("{s:s}", "x", "y"));

	char *text = written();
	char *save = NULL, *line[5];
	int n = 0;
	for (char *l = strtok_r(text, "\n", &save); l && n < 5; l = strtok_r(NULL, "\n", &save))
		line[n++] = l;
	cr_assert_eq(n, 4, "%d lines; the debug one must not be written:\n%s", n, text);

	json_t *o = parse_line(line[0], "request", "info");
	cr_assert_str_eq(json_string_value(json_object_get(o, "path")), "/a\"b\n");
	cr_assert_eq(json_integer_value(json_object_get(o, "status")), 200);
	cr_assert(json_is_null(json_object_get(o, "user_id")));
	cr_assert_eq(json_object_size(o), 7);
	json_decref(o);
	o = parse_line(line[1], "plain", "warning");
	cr_assert_eq(json_object_size(o), 3);
	json_decref(o);
	o = parse_line(line[2], "empty", "error");
	cr_assert_eq(json_object_size(o), 3);
	json_decref(o);
	o = parse_line(line[3], "long", "info");
	cr_assert_str_eq(json_string_value(json_object_get(o, "path")), long_path);
	json_decref(o);
	free(text);
	free(long_path);
}

Test(log, console_lines_escape_what_a_client_sent)
{
	log_init(LOG_INFO, LOG_CONSOLE, out);
	log_emit(LOG_INFO, "request", json_pack("{s:s,s:i}", "path", "/x\nfake 1", "status", 404));
	log_emit(LOG_INFO, "bare", NULL);
	char *text = written();
	cr_assert(strstr(text, " info    request path=/x\\nfake 1 status=404\n"), "%s", text);
	cr_assert(strstr(text, " info    bare\n"), "%s", text);
	free(text);
}
