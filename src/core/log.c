/*
 * log.c - structured log lines (see log.h).
 *
 * A line is built whole in memory and written with one fwrite under the
 * stream lock, so concurrent request threads never interleave.
 */
#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/timeutil.h"

static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_JSON;
static FILE *stream;

static const char *const names[] = {"debug", "info", "warning", "error"};

void log_init(enum log_level min, enum log_format fmt, FILE *out)
{
	min_level = min;
	format = fmt;
	stream = out;
}

bool log_enabled(enum log_level level)
{
	return level >= min_level;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < 4 ? names[level] : "info";
}

bool log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	if (strcasecmp(s, "warn") == 0) {
		*out = LOG_WARNING;
		return true;
	}
	return false;
}

/* "key=value" pairs after the event, for people reading a terminal. */
static char *console_line(const char *ts, enum log_level level, const char *event, json_t *fields)
{
	size_t cap = 256, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	len = (size_t)snprintf(buf, cap, "%s %-7s %s", ts, log_level_name(level), event);
	const char *key;
	json_t *val;
	json_object_foreach(fields, key, val)
	{
		char *v = json_is_string(val) ? strdup(json_string_value(val))
		                              : json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT);
		if (!v)
			continue;
		size_t need = len + strlen(key) + strlen(v) + 3;
		if (need >= cap) {
			cap = need * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(v);
				break;
			}
			buf = nb;
		}
		len += (size_t)snprintf(buf + len, cap - len, " %s=%s", key, v);
		free(v);
	}
	return buf;
}

void log_emit(enum log_level level, const char *event, json_t *fields)
{
	if (!log_enabled(level)) {
		json_decref(fields);
		return;
	}
	char ts[TIME_ISO_LEN];
	time_format_iso(time_now_ms(), ts);

	json_t *obj = json_object();
	json_object_set_new(obj, "ts", json_string(ts));
	json_object_set_new(obj, "level", json_string(log_level_name(level)));
	json_object_set_new(obj, "event", json_string(event));
	if (fields) {
		json_object_update(obj, fields);
		json_decref(fields);
	}

	char *line;
	if (format == LOG_CONSOLE) {
		json_object_del(obj, "ts");
		json_object_del(obj, "level");
		json_object_del(obj, "event");
		line = console_line(ts, level, event, obj);
	} else {
		line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4));
	}
	json_decref(obj);
	if (!line)
		return;

	FILE *out = stream ? stream : stdout;
	flockfile(out);
	fputs(line, out);
	fputc('\n', out);
	fflush(out);
	funlockfile(out);
	free(line);
}
