/*
 * use.c - libFuzzer target: untrusted text through the local model's
 * tokenizer (NFKC, the Viterbi segmentation) and, for inputs up to 512 bytes,
 * the whole embedder (windows, encoder, output layer). Every input must
 * give piece ids in the vocabulary and a finite unit vector; ASan and UBSan
 * watch the memory. Loads the model from EMBEDDING_MODEL_DIR (default
 * data/models/use-lite-v1).
 *
 *   scripts/fuzz use
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "providers/embedder.h"
#include "providers/use.h"

static struct embedder *e;

int LLVMFuzzerInitialize(int *argc, char ***argv);

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
	CHECK(embed_use_tokens(e, text, &ids, &n, &err) == VERR_OK, "tokenizer: %s",
	      verr_detail(&err));
	for (size_t i = 0; i < n; i++)
		CHECK(ids[i] >= 0 && ids[i] < USE_VOCAB, "piece %zu is %d", i, (int)ids[i]);
	free(ids);
	if (size <= 512) {
		float v[USE_DIM], norm = 0;
		const char *texts[] = {text};
		CHECK(embedder_embed(e, texts, 1, v, &err) == VERR_OK, "embed: %s",
		      verr_detail(&err));
		for (int i = 0; i < USE_DIM; i++) {
			CHECK(isfinite(v[i]), "v[%d] = %g", i, (double)v[i]);
			norm += v[i] * v[i];
		}
		CHECK(fabsf(norm - 1.0f) <= 1e-3f, "|v|^2 = %g", (double)norm);
	}
	free(text);
	return 0;
}
