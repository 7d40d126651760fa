/*
 * log.h - structured logs, one JSON object per line.
 *
 * Each line has ts (UTC, milliseconds), level and event, then the fields the
 * caller gives. LOG_FORMAT=console prints the same in a human form. Lines
 * are written whole, so threads never interleave. Never pass a password,
 * hash, token or key as a field.
 */
#ifndef VAULT_CORE_LOG_H
#define VAULT_CORE_LOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR };
enum log_format { LOG_JSON, LOG_CONSOLE };

/* Sets the minimum level, the format and the stream (stdout if NULL). */
void log_init(enum log_level min, enum log_format fmt, FILE *out);

bool log_enabled(enum log_level level);

/* Writes one line. Takes ownership of fields (a JSON object, or NULL); event is an
 * identifier ([a-z_]), written as is. */
void log_emit(enum log_level level, const char *event, json_t *fields);

/* Parses "debug|info|warning|error"; false if unknown. */
bool log_level_parse(const char *s, enum log_level *out);

const char *log_level_name(enum log_level level);

#endif
