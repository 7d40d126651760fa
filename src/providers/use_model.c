/*
 * use_model.c - loads Universal Sentence Encoder Lite (see use.h): checks
 * that every file is the published one, maps the weight shards and finds
 * each tensor by the name and shape model.json's weightsManifest gives it,
 * and builds the tokenizer's trie from vocab.json.
 *
 * The shards are mapped, not read: back to back in one reserved address
 * range, so a tensor that straddles two shards (the embedding table does)
 * is contiguous, and processes on one machine share the page cache's copy.
 * The two JSON files must have their published SHA-256 (so the manifest,
 * and so where each tensor lies, is the published one), the shards their
 * published sizes. Hashing the shards too would add about 30 ms to every
 * start of every vault process; scripts/fetch-model checks them (the
 * package's sha512 when it unpacks them, their SHA-256 every run after).
 */
#include "providers/use.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

#include "core/mem.h"

/* The published files: name, size and SHA-256 (checked for the JSON files). */
static const struct {
	const char *name;
	off_t size;
	const char *sha256;
} files[] = {
    {"model.json", 247026, "507d11df18b070f99e0ad650b9a4e6534a4cfb05040127e8ce579f00c8fa3b53"},
    {"vocab.json", 218327, "1ad860b9720c16cd48e666d664a556b2515c04f5a26a4b53c0372427913b1b8e"},
    {"group1-shard1of7", 4194304,
     "8775e61b6a4235ea230a62a0d81f1ff00f5213ce86baa5d89c29e611f8cd7412"},
    {"group1-shard2of7", 4194304,
     "deaf897e5eea5be6c71ea62876a092034560b6f6fbc99c87a768076385a465bd"},
    {"group1-shard3of7", 4194304,
     "50ee49b0daf620cf0cacda2f5fcc0da5929f4a3e520034844b6f8d9f3f4ec936"},
    {"group1-shard4of7", 4194304,
     "c1a50daae51e7c6e1e904f5d8d638a8658a0a1d310b9345cd7a368866304d596"},
    {"group1-shard5of7", 4194304,
     "410cde3029282e5f601c782985cbb5caa96977f6705dec981c98dd02e93fec6b"},
    {"group1-shard6of7", 4194304,
     "83ef116b2b98dc98e03547280ca0166142fbf6b4547bf1d9e6d13a8f518c088b"},
    {"group1-shard7of7", 2737832,
     "a29a5e08ee3afd839250b9187b89f1d3163749b5b1807bb175341a16c6012689"},
};

#define N_FILES  (sizeof(files) / sizeof(files[0]))
#define N_SHARDS (N_FILES - 2)

/*
 * Sets err to VERR_INVALID with one line: the problem (a printf format),
 * then how to put the model in dir. Returns VERR_INVALID.
 */
__attribute__((format(printf, 3, 4))) static enum verr refuse(struct verror *err, const char *dir,
                                                              const char *fmt, ...)
{
	char problem[VERR_DETAIL_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	return verr_set(err, VERR_INVALID,
	                "local embedder: %s; fetch the model with `scripts/fetch-model %s` "
	                "(EMBEDDING_MODEL_DIR)",
	                problem, dir);
}

/* Whether the SHA-256 of p[0..n) is hex. */
static bool digest_is(const void *p, size_t n, const char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char got[65];
	if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len != 32)
		return false;
	for (unsigned i = 0; i < 32; i++)
		snprintf(got + 2 * i, 3, "%02x", md[i]);
	return strcmp(got, hex) == 0;
}

/*
 * Opens dir/files[i] and checks its size; returns the descriptor, or -1 with
 * err set to a line naming the file.
 */
static int open_checked(const char *dir, size_t i, struct verror *err)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		refuse(err, dir, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		refuse(err, dir, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_size != files[i].size) {
		refuse(err, dir, "%s is not the published file (%lld bytes, expected %lld)", path,
		       (long long)st.st_size, (long long)files[i].size);
		close(fd);
		return -1;
	}
	return fd;
}

static enum verr corrupt(struct verror *err, const char *dir, size_t i)
{
	return refuse(err, dir, "%s/%s is corrupt (its SHA-256 is not the published one)", dir,
	              files[i].name);
}

/*
 * Reads and checks a JSON file (files[i]) and parses it, or with key only
 * the value of its first "key": (the graph's 230 kB of nodes in model.json
 * would take longer to parse than the rest of loading; the file's digest
 * makes the shortcut safe). The caller releases *out.
 */
static enum verr load_json(const char *dir, size_t i, const char *key, json_t **out,
                           struct verror *err)
{
	enum verr rc = VERR_OK;
	char *buf = xmalloc((size_t)files[i].size);
	json_error_t jerr;
	int fd = open_checked(dir, i, err);
	*out = NULL;
	if (fd < 0) {
		free(buf);
		return VERR_INVALID;
	}
	ssize_t got = 0;
	for (size_t done = 0; done < (size_t)files[i].size; done += (size_t)got) {
		got = read(fd, buf + done, (size_t)files[i].size - done);
		if (got <= 0) {
			rc = verr_set(err, VERR_INVALID,
			              "local embedder: %s/%s: cannot be read (%s)", dir,
			              files[i].name, got < 0 ? strerror(errno) : "short read");
			goto out;
		}
	}
	if (!digest_is(buf, (size_t)files[i].size, files[i].sha256)) {
		rc = corrupt(err, dir, i);
		goto out;
	}
	const char *from = buf;
	if (key) {
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "\"%s\":", key);
		from = memmem(buf, (size_t)files[i].size, quoted, strlen(quoted));
		from = from ? from + strlen(quoted) : buf + files[i].size;
	}
	*out = json_loadb(from, (size_t)(buf + files[i].size - from),
	                  key ? JSON_DISABLE_EOF_CHECK : 0, &jerr);
	if (!*out)
		rc = verr_set(err, VERR_INVALID, "local embedder: %s/%s: %s", dir, files[i].name,
		              jerr.text);
out:
	close(fd);
	free(buf);
	return rc;
}

/* Maps the shards back to back into m->map and checks them. */
static enum verr map_shards(struct use_model *m, const char *dir, struct verror *err)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t total = 0;
	for (size_t i = 2; i < N_FILES; i++)
		total += (size_t)files[i].size;
	void *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return verr_set(err, VERR_INTERNAL, "local embedder: cannot reserve %zu bytes: %s",
		                total, strerror(errno));
	m->map = base;
	m->map_len = total;
	size_t off = 0;
	for (size_t i = 2; i < N_FILES; off += (size_t)files[i].size, i++) {
		/* Only the last shard may end off a page boundary. */
		if (off % (size_t)page != 0)
			return verr_set(err, VERR_INTERNAL,
			                "local embedder: shards not page-aligned");
		int fd = open_checked(dir, i, err);
		if (fd < 0)
			return VERR_INVALID;
		/* Populated now: one call instead of a page fault per 64 KiB later. */
		void *p = mmap((char *)base + off, (size_t)files[i].size, PROT_READ,
		               MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd, 0);
		int e = errno;
		close(fd);
		if (p == MAP_FAILED)
			return verr_set(err, VERR_INTERNAL, "local embedder: %s/%s: cannot map: %s",
			                dir, files[i].name, strerror(e));
	}
	return VERR_OK;
}

/* ---------------------------------------------------------------------- */
/* Tensors by name                                                         */
/* ---------------------------------------------------------------------- */

#define APPLY "module_apply_default/Encoder_en/KonaTransformer/"
#define LAYER APPLY "Encode/Layer_%d/TransformerLayer/"
#define STACK APPLY "Encode/TransformerStack/Layer_%d/TransformerLayer/"
#define KERN  "module/Encoder_en/KonaTransformer/Encode/Layer_%d/TransformerLayer/"
#define CONC  "/ConcatPartitions/concat"

/*
 * The float32 tensor called name (a printf format of the layer) with the
 * given shape (up to 4 dimensions, -1 ends it) in the manifest weights[],
 * whose data starts at m->map + the sum of the sizes before it.
 */
static enum verr tensor(const struct use_model *m, json_t *weights, const char *fmt, int layer,
                        const int *shape, const float **out, struct verror *err)
{
	char name[256];
	size_t off = 0, i, nd = 0;
	json_t *w;
	snprintf(name, sizeof(name), fmt, layer);
	while (nd < 4 && shape[nd] >= 0)
		nd++;
	json_array_foreach(weights, i, w)
	{
		json_t *dims = json_object_get(w, "shape");
		const char *dtype = json_string_value(json_object_get(w, "dtype"));
		size_t n = 1, k;
		json_t *d;
		if (!json_is_array(dims) || !dtype ||
		    (strcmp(dtype, "float32") != 0 && strcmp(dtype, "int32") != 0))
			break;
		json_array_foreach(dims, k, d) n *= (size_t)json_integer_value(d);
		const char *wname = json_string_value(json_object_get(w, "name"));
		if (wname && strcmp(wname, name) == 0) {
			bool same = strcmp(dtype, "float32") == 0 && json_array_size(dims) == nd;
			for (k = 0; same && k < nd; k++)
				same = json_integer_value(json_array_get(dims, k)) == shape[k];
			if (!same || off + n * 4 > m->map_len)
				break;
			*out = (const float *)((const char *)m->map + off);
			return VERR_OK;
		}
		off += n * 4;
	}
	return verr_set(err, VERR_INVALID,
	                "local embedder: model.json has no float32 tensor %s of the expected shape",
	                name);
}

static enum verr find_tensors(struct use_model *m, json_t *manifest, struct verror *err)
{
	json_t *weights = json_object_get(json_array_get(manifest, 0), "weights");
	const float *inv = NULL, *scale[USE_LAYERS];
	enum verr rc;
	if (!json_is_array(weights))
		return verr_set(err, VERR_INVALID, "local embedder: model.json has no weights");
#define T(fmt, l, ptr, ...)                                                                        \
	if ((rc = tensor(m, weights, fmt, l, (const int[]){__VA_ARGS__, -1}, ptr, err)))           \
	return rc
	T("module/Embeddings_en", 0, &m->embed, USE_EMBED_ROWS, USE_EMBED_DIM);
	T(APPLY "Encode/TransformerStack/Layer_%d/AddTimingSignal/TimingSignal/ExpandDims_1", 0,
	  &inv, 1, USE_MAX_TOKENS);
	T(LAYER "dense/kernel" CONC, 0, &m->res_w, USE_EMBED_DIM, USE_DIM);
	T(LAYER "dense/bias" CONC, 0, &m->res_b, USE_DIM);
	T("module/Encoder_en/hidden_layers/tanh_layer_0/weights", 0, &m->tanh_w, USE_DIM, USE_DIM);
	T("module/Encoder_en/hidden_layers/tanh_layer_0/bias", 0, &m->tanh_b, USE_DIM);
	for (int l = 0; l < USE_LAYERS; l++) {
		struct use_layer *y = &m->layer[l];
		int w = l == 0 ? USE_EMBED_DIM : USE_DIM;
		y->width = w;
		T(LAYER "layer_prepostprocess/layer_norm/layer_norm_scale" CONC, l, &y->ln1_g, w);
		T(LAYER "layer_prepostprocess/layer_norm/layer_norm_bias" CONC, l, &y->ln1_b, w);
		T(KERN "MultiheadAttention/qkv_transform_single/kernel/part_0", l, &y->qkv_w, 1, 1,
		  w, 3 * w);
		T(LAYER "MultiheadAttention/qkv_transform_single/bias" CONC, l, &y->qkv_b, 3 * w);
		T(KERN "MultiheadAttention/output_transform_single/kernel/part_0", l, &y->out_w, 1,
		  1, w, USE_DIM);
		T(LAYER "MultiheadAttention/output_transform_single/bias" CONC, l, &y->out_b,
		  USE_DIM);
		T(STACK "MultiheadAttention/mul/y", l, &scale[l], -1); /* a scalar */
		T(LAYER "FFN/layer_prepostprocess/layer_norm/layer_norm_scale" CONC, l, &y->ln2_g,
		  USE_DIM);
		T(LAYER "FFN/layer_prepostprocess/layer_norm/layer_norm_bias" CONC, l, &y->ln2_b,
		  USE_DIM);
		T(STACK "FFN/conv1/Tensordot/Reshape_1", l, &y->ffn1_w, USE_DIM, USE_FFN_DIM);
		T(LAYER "FFN/conv1/bias" CONC, l, &y->ffn1_b, USE_FFN_DIM);
		T(STACK "FFN/conv2/Tensordot/Reshape_1", l, &y->ffn2_w, USE_FFN_DIM, USE_DIM);
		T(LAYER "FFN/conv2/bias" CONC, l, &y->ffn2_b, USE_DIM);
		y->q_scale = scale[l][0];
	}
#undef T
	/* tensor2tensor's timing signal: sin then cos of position * 1/timescale. */
	m->timing = xmalloc(USE_MAX_TOKENS * USE_EMBED_DIM * sizeof(float));
	for (int p = 0; p < USE_MAX_TOKENS; p++)
		for (int i = 0; i < USE_EMBED_DIM / 2; i++) {
			float t = (float)p * inv[i];
			m->timing[p * USE_EMBED_DIM + i] = sinf(t);
			m->timing[p * USE_EMBED_DIM + USE_EMBED_DIM / 2 + i] = cosf(t);
		}
	return VERR_OK;
}

/* ---------------------------------------------------------------------- */
/* The vocabulary's trie                                                   */
/* ---------------------------------------------------------------------- */

static size_t slot_of(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 32) & (cap - 1);
}

/* The child of node for code point cp, made if missing. */
static int32_t trie_child(struct use_vocab *v, int32_t node, uint32_t cp)
{
	uint64_t key = ((uint64_t)(node + 1) << 21) | cp;
	size_t i = slot_of(key, v->cap);
	while (v->keys[i] && v->keys[i] != key)
		i = (i + 1) & (v->cap - 1);
	if (!v->keys[i]) {
		v->keys[i] = key;
		v->child[i] = (int32_t)v->nodes;
		v->piece[v->nodes] = -1;
		v->score[v->nodes] = 0;
		v->nodes++;
	}
	return v->child[i];
}

/*
 * Builds the trie from vocab.json: USE_VOCAB [piece, score] pairs, score a
 * number or null (which the reference adds as 0). The first 6 pieces are
 * reserved (<unk> as U+FFFD, <s>, ...) and never matched, as in the
 * reference; a piece listed twice keeps its last id and score, as its trie
 * insert does.
 */
static enum verr build_vocab(struct use_vocab *v, json_t *vocab, struct verror *err)
{
	size_t total = 1, i;
	json_t *e;
	if (!json_is_array(vocab) || json_array_size(vocab) != USE_VOCAB)
		return verr_set(err, VERR_INVALID, "local embedder: vocab.json: expected %d pieces",
		                USE_VOCAB);
	json_array_foreach(vocab, i, e)
	{
		const char *s = json_string_value(json_array_get(e, 0));
		json_t *score = json_array_get(e, 1);
		size_t cps = 0, units = 0;
		if (!s || !*s || !(json_is_number(score) || json_is_null(score)))
			return verr_set(err, VERR_INVALID,
			                "local embedder: vocab.json: piece %zu is malformed", i);
		for (const unsigned char *p = (const unsigned char *)s; *p; p++)
			if ((*p & 0xC0) != 0x80) {
				cps++;
				units += *p >= 0xF0 ? 2 : 1; /* beyond the BMP: a surrogate pair */
			}
		if (cps > USE_PIECE_MAX)
			return verr_set(err, VERR_INVALID,
			                "local embedder: vocab.json: piece %zu is too long", i);
		v->len16[i] = (uint8_t)units;
		total += cps;
	}
	v->cap = 1;
	while (v->cap < 2 * total)
		v->cap <<= 1;
	v->keys = xcalloc(v->cap, sizeof(*v->keys));
	v->child = xcalloc(v->cap, sizeof(*v->child));
	v->piece = xmalloc(total * sizeof(*v->piece));
	v->score = xmalloc(total * sizeof(*v->score));
	v->piece[0] = -1;
	v->nodes = 1;
	for (i = 6; i < USE_VOCAB; i++) {
		e = json_array_get(vocab, i);
		const char *s = json_string_value(json_array_get(e, 0));
		int32_t node = 0;
		for (size_t k = 0; s[k];) {
			int32_t cp;
			utf8proc_ssize_t n =
			    utf8proc_iterate((const utf8proc_uint8_t *)s + k, -1, &cp);
			if (n <= 0)
				return verr_set(
				    err, VERR_INVALID,
				    "local embedder: vocab.json: piece %zu is not UTF-8", i);
			node = trie_child(v, node, (uint32_t)cp);
			k += (size_t)n;
		}
		v->piece[node] = (int32_t)i;
		v->score[node] = json_number_value(json_array_get(e, 1)); /* null: 0 */
	}
	return VERR_OK;
}

static void vocab_cleanup(struct use_vocab *v)
{
	free(v->keys);
	free(v->child);
	free(v->piece);
	free(v->score);
}

/* ---------------------------------------------------------------------- */
/* Loading                                                                 */
/* ---------------------------------------------------------------------- */

enum verr use_model_load(const char *dir, struct use_model **out, struct verror *err)
{
	struct use_model *m = xcalloc(1, sizeof(*m));
	json_t *manifest = NULL, *vocab = NULL;
	enum verr rc;
	*out = NULL;
	if ((rc = load_json(dir, 0, "weightsManifest", &manifest, err)) ||
	    (rc = load_json(dir, 1, NULL, &vocab, err)) || (rc = map_shards(m, dir, err)) ||
	    (rc = find_tensors(m, manifest, err)) || (rc = build_vocab(&m->vocab, vocab, err))) {
		use_model_free(m);
		m = NULL;
	}
	json_decref(manifest);
	json_decref(vocab);
	*out = m;
	return rc;
}

void use_model_free(struct use_model *m)
{
	if (!m)
		return;
	if (m->map)
		munmap(m->map, m->map_len);
	free(m->timing);
	vocab_cleanup(&m->vocab);
	free(m);
}
