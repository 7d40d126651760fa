/*
 * log.c - structured log lines (see log.h).
 *
 * A line is built whole in memory and written under the stream lock, so
 * concurrent request threads never interleave.
 */
#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
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

/*
 * Appends s with control characters (C0, DEL, C1) and backslash escaped, so
 * a value a client sent (a path with %0a) cannot start a fake line or drive
 * the terminal.
 */
static void put_escaped(struct buf *l, const char *s)
{
	static const char special[] = "\\\n\r\t", letter[] = "\\nrt";
	for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
		const char *sp = strchr(special, *u);
		if (sp)
			buf_add(l, (char[]){'\\', letter[sp - special]}, 2);
		else if (*u < 0x20 || *u == 0x7F)
			buf_printf(l, "\\x%02x", *u);
		else if (*u == 0xC2 && u[1] >= 0x80 && u[1] <= 0x9F) /* C1, as U+0080-U+009F */
			buf_printf(l, "\\u%04x", *++u);
		else
			buf_add(l, u, 1);
	}
}

/* "key=value" pairs after the event, for people reading a terminal. */
static char *console_line(const char *ts, enum log_level level, const char *event, json_t *fields)
{
	struct buf l; /* as long as the fields: the callers bound those */
	buf_init(&l, BUF_NOCAP);
	buf_printf(&l, "%s %-7s %s", ts, log_level_name(level), event);
	const char *key;
	json_t *val;
	json_object_foreach(fields, key, val)
	{
		buf_printf(&l, " %s=", key);
		if (json_is_string(val)) {
			put_escaped(&l, json_string_value(val));
		} else { /* JSON text: jansson has escaped any string inside */
			char *v = json_dumps(val, JSON_ENCODE_ANY | JSON_COMPACT |
			                              JSON_REAL_PRECISION(4));
			if (v)
				buf_adds(&l, v);
			free(v);
		}
	}
	return buf_steal(&l);
}

static void write_line(const char *line, size_t len)
{
	FILE *out = stream ? stream : stdout;
	flockfile(out);
	fwrite(line, 1, len, out);
	fputc('\n', out);
	fflush(out);
	funlockfile(out);
}

/*
 * A request logs one line, so the JSON line is written straight into a stack
 * buffer: the fixed head by hand (event is an identifier from our code, ts
 * digits), then the fields' object by jansson with its '{' turned into ','.
 */
static void emit_json(const char *ts, enum log_level level, const char *event, json_t *fields)
{
	char stack[2048];
	int head =
	    snprintf(stack, sizeof(stack), "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"%s\"", ts,
	             log_level_name(level), event);
	const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4);
	if (head < 0 || (size_t)head >= sizeof(stack) - 1)
		return; /* an event name from our code is never near this long */
	if (!fields || json_object_size(fields) == 0) {
		stack[head++] = '}';
		write_line(stack, (size_t)head);
		return;
	}
	size_t room = sizeof(stack) - (size_t)head;
	size_t n = json_dumpb(fields, stack + head, room, flags);
	if (n && n <= room) {
		stack[head] = ',';
		write_line(stack, (size_t)head + n);
		return;
	}
	char *tail = json_dumps(fields, flags); /* a long line: rare */
	if (tail) {
		struct buf l;
		buf_init(&l, BUF_NOCAP);
		buf_add(&l, stack, (size_t)head);
		buf_adds(&l, ",");
		buf_adds(&l, tail + 1);
		write_line(l.p, l.len);
		buf_free(&l);
		free(tail);
	}
}

void log_emit(enum log_level level, const char *event, json_t *fields)
{
	if (!log_enabled(level)) {
		json_decref(fields);
		return;
	}
	char ts[TIME_ISO_LEN];
	time_format_iso(time_now_ms(), ts);
	if (format == LOG_JSON) {
		emit_json(ts, level, event, fields);
		json_decref(fields);
		return;
	}
	json_t *f = fields ? fields : json_object();
	char *line = console_line(ts, level, event, f);
	json_decref(f);
	write_line(line, strlen(line));
	free(line);
}
