/*
 * embed.c - `vault embed`: the vectors the configured embedder gives texts,
 * to check an install, compare models or feed other tools.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "providers/embedder.h"

#define LINE_MAX_BYTES (16 * 1024 * 1024) /* one JSON string of stdin */

static const char usage[] =
    "Usage: vault embed [--tokens] [TEXT...]\n"
    "\n"
    "Prints the vector the configured embedder (EMBEDDING_PROVIDER) gives each\n"
    "TEXT, one JSON array per line. Without TEXT, reads the texts from standard\n"
    "input, one JSON string a line (so a text may hold line breaks).\n"
    "\n"
    "Options:\n"
    "  --tokens    print the local model's sentence piece ids instead\n"
    "  -h, --help  show this help\n";

/* Reads stdin's JSON-string lines into *texts; returns the count, or exits on bad input. */
static size_t read_texts(char ***texts)
{
	size_t n = 0, cap = 0;
	char *line = NULL;
	size_t size = 0;
	ssize_t len;
	*texts = NULL;
	for (size_t lineno = 1; (len = getline(&line, &size, stdin)) >= 0; lineno++) {
		json_error_t jerr;
		if (len > LINE_MAX_BYTES) {
			fprintf(stderr, "vault embed: line %zu: longer than %d bytes\n", lineno,
			        LINE_MAX_BYTES);
			exit(EXIT_USAGE);
		}
		json_t *s = json_loads(line, JSON_DECODE_ANY, &jerr);
		if (!json_is_string(s)) {
			fprintf(stderr, "vault embed: line %zu: expected a JSON string\n", lineno);
			exit(EXIT_USAGE);
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			*texts = xrealloc(*texts, cap * sizeof(**texts));
		}
		(*texts)[n++] = xstrdup(json_string_value(s));
		json_decref(s);
	}
	free(line);
	return n;
}

/* Prints a, one line, and releases it. */
static void print_line(json_t *a)
{
	char *s = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(9));
	puts(s);
	free(s);
	json_decref(a);
}

int cmd_embed(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"tokens", no_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'}, {0}};
	struct config cfg;
	struct embedder *e = NULL;
	struct verror err;
	bool tokens = false;
	char **texts = NULL;
	size_t n;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 't') {
			tokens = true;
		} else if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		} else {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	cli_load_config(&cfg);
	if (embedder_new(&cfg, &e, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		config_free(&cfg);
		return 1;
	}
	if (optind < argc) {
		n = (size_t)(argc - optind);
		texts = xcalloc(n, sizeof(*texts));
		for (size_t i = 0; i < n; i++)
			texts[i] = xstrdup(argv[optind + (int)i]);
	} else {
		n = read_texts(&texts);
	}

	float *v = xmalloc(e->max_batch * (size_t)e->dim * sizeof(float));
	for (size_t i = 0; i < n && status == 0;) {
		size_t m = n - i < e->max_batch ? n - i : e->max_batch;
		if (tokens) {
			int32_t *ids;
			size_t count;
			if (embed_use_tokens(e, texts[i], &ids, &count, &err)) {
				fprintf(stderr, "vault embed: %s\n", verr_detail(&err));
				status = 1;
				break;
			}
			json_t *a = json_array();
			for (size_t k = 0; k < count; k++)
				json_array_append_new(a, json_integer(ids[k]));
			free(ids);
			print_line(a);
			i++;
			continue;
		}
		if (embedder_embed(e, (const char *const *)texts + i, m, v, &err)) {
			fprintf(stderr, "vault embed: %s\n", verr_detail(&err));
			status = 1;
			break;
		}
		for (size_t k = 0; k < m; k++) {
			json_t *a = json_array();
			for (int d = 0; d < e->dim; d++)
				json_array_append_new(a,
				                      json_real(v[k * (size_t)e->dim + (size_t)d]));
			print_line(a);
		}
		i += m;
	}
	free(v);
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	embedder_free(e);
	config_free(&cfg);
	return status;
}
