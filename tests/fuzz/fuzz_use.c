/*
 * fuzz_use.c - libFuzzer target: untrusted text through the local model's
 * tokenizer (NFKC, the Viterbi segmentation) and, for inputs up to 512 bytes,
 * the whole embedder (windows, encoder, output layer). Every input must
 * give piece ids in the vocabulary and a finite unit vector; ASan and UBSan
 * watch the memory. Loads the model from EMBEDDING_MODEL_DIR (default
 * data/models/use-lite-v1).
 *
 *   make fuzz && build-fuzz/fuzz_use -max_total_time=60
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/embedder.h"
#include "providers/use.h"

static struct embedder *e;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	static struct config c;
	const char *dir = getenv("EMBEDDING_MODEL_DIR");
	c.embedding_model = "use-lite-v1";
	c.embedding_model_dir = (char *)(dir && *dir ? dir : "data/models/use-lite-v1");
	c.embedding_dim = USE_DIM;
	struct verror err;
	if (embed_use_new(&c, &e, &err)) {
		fprintf(stderr, "fuzz_use: %s\n", verr_detail(&err));
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct verror err;
	int32_t *ids;
	size_t n;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* embedders take C strings: the text ends at the first NUL */
	if (embed_use_tokens(e, text, &ids, &n, &err))
		abort();
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= USE_VOCAB)
			abort();
	free(ids);
	if (size <= 512) {
		float v[USE_DIM], norm = 0;
		const char *texts[] = {text};
		if (embedder_embed(e, texts, 1, v, &err))
			abort();
		for (int i = 0; i < USE_DIM; i++) {
			if (!isfinite(v[i]))
				abort();
			norm += v[i] * v[i];
		}
		if (fabsf(norm - 1.0f) > 1e-3f)
			abort();
	}
	free(text);
	return 0;
}
