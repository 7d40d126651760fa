/*
 * err.c - status and message tables for enum verr, and the error slot.
 */
#include "core/err.h"

#include <stdio.h>
#include <string.h>

static const struct {
	int status;
	const char *message;
	const char *name;
} table[] = {
#define VERR_ROW(code, status, msg) [code] = {status, msg, #code},
    VERR_MAP(VERR_ROW)
#undef VERR_ROW
};

#define NCODES (sizeof(table) / sizeof(table[0]))

int verr_status(enum verr code)
{
	return (unsigned)code < NCODES ? table[code].status : 500;
}

const char *verr_message(enum verr code)
{
	return (unsigned)code < NCODES ? table[code].message : "Internal server error";
}

const char *verr_name(enum verr code)
{
	return (unsigned)code < NCODES ? table[code].name : "VERR_UNKNOWN";
}

static enum verr set(struct verror *e, enum verr code, int retry_after, const char *fmt, va_list ap)
{
	if (!e)
		return code;
	e->code = code;
	e->retry_after = retry_after;
	e->detail[0] = '\0';
	if (fmt)
		vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	return code;
}

enum verr verr_set(struct verror *e, enum verr code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set(e, code, 0, fmt, ap);
	va_end(ap);
	return code;
}

enum verr verr_retry(struct verror *e, enum verr code, int seconds, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set(e, code, seconds, fmt, ap);
	va_end(ap);
	return code;
}

void verr_clear(struct verror *e)
{
	if (e) {
		e->code = VERR_OK;
		e->retry_after = 0;
		e->detail[0] = '\0';
	}
}

const char *verr_detail(const struct verror *e)
{
	return e->detail[0] ? e->detail : verr_message(e->code);
}
