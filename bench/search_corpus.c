/*
 * search_corpus.c - seeds a synthetic corpus for bench/search.sh.
 *
 *   search_corpus CHUNKS EMAIL PASSWORD QUERIES_FILE NQUERIES
 *   search_corpus --notes NOTES EMAIL PASSWORD SEED [QUERIES_FILE NQUERIES]
 *   search_corpus --keyword-cpu EMAIL QUERIES_FILE REPEAT
 *   search_corpus --embed QUERIES_FILE
 *   search_corpus --vectors CHUNKS SEED USER_ID [QUERIES_FILE NQUERIES]
 *
 * Opens the database named by DATABASE_URL (settings from the environment,
 * as `vault serve` reads them), applies the migrations, registers EMAIL and
 * creates notes for it with notes_create() - the service call behind
 * POST /api/v1/notes: validation, Markdown chunking, hashing, the note, its
 * tags, chunks (pending) and keyword index in one transaction - until the
 * notes hold exactly CHUNKS chunks. Nothing is embedded here: that is the
 * server's worker's job, and what the benchmark times.
 *
 * Notes are made from a fixed vocabulary of 24 topics with a deterministic
 * generator, so every run builds the same corpus: short notes (one chunk),
 * notes with ## sections (a chunk per section), notes with lists, and a few
 * long ones that the chunker cuts into several overlapping chunks. Then
 * NQUERIES varied search queries go to QUERIES_FILE, one a line: topic
 * keywords, questions in plain words, inflected or misspelt words, and exact
 * titles of seeded notes.
 *
 * --notes (bench/isolation.sh) counts notes instead of chunks: it adds
 * NOTES notes to EMAIL, registering it first if it is new, from the
 * generator seeded with SEED (a user can grow in steps, each with its own
 * seed), then writes NQUERIES queries as above if QUERIES_FILE is given.
 *
 * --keyword-cpu (bench/isolation.sh) runs store_keyword_search for EMAIL
 * with every word of each line of QUERIES_FILE (lower-cased; stop words
 * kept), REPEAT times over, and prints the CPU time of this process per
 * search: on SQLite that is the whole of the keyword query, HTTP left out,
 * and unlike wall time it hardly moves with the machine's other load.
 *
 * The store is opened with synchronous=NORMAL: seeding is not measured, and
 * it spares one fsync per note. Prints key=value lines on stdout.
 *
 * The other two forms touch no database; they embed with the embedder of
 * the settings (EMBEDDING_PROVIDER=hash, EMBEDDING_DIM), L2-normalised as
 * the server does, and print pgvector text literals ("[0.1,...]") for psql:
 *   --embed: one line per line of QUERIES_FILE: the vector the server
 *     searches with for that query (bench/search.sh's raw SQL timings);
 *   --vectors: CHUNKS chunks of the same generator, seeded with SEED, each
 *     embedded as the worker embeds a chunk (title, heading trail, text),
 *     as "USER_ID<TAB>NOTE<TAB>VECTOR" lines for COPY (NOTE counts the
 *     notes of this run from 1); then NQUERIES query texts to QUERIES_FILE
 *     (bench/pg_plans.sh).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/config.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "providers/embedder.h"
#include "services/auth.h"
#include "services/chunker.h"
#include "services/notes.h"
#include "services/services.h"
#include "store/vecmath.h"
#include "store/store.h"

extern char **environ;

/* ------------------------------------------------------------ vocabulary */

struct topic {
	const char *tag;
	const char *words[24];
};

static const struct topic topics[] = {
    {"cooking",
     {"sourdough", "starter", "flour", "dough",  "oven",   "bake",    "knead", "hydration",
      "yeast",     "crust",   "loaf",  "recipe", "butter", "garlic",  "onion", "simmer",
      "sauce",     "pasta",   "roast", "spices", "tomato", "skillet", "broth", "salt"}},
    {"garden", {"tomatoes",   "seedlings", "compost", "soil",    "mulch",      "prune",
                "roses",      "watering",  "beds",    "weeds",   "harvest",    "basil",
                "greenhouse", "frost",     "sowing",  "aphids",  "fertiliser", "perennials",
                "hedge",      "lawn",      "bulbs",   "trellis", "cuttings",   "shade"}},
    {"running", {"marathon",   "tempo",     "intervals", "pace",   "mileage", "shoes",
                 "stretching", "hamstring", "recovery",  "race",   "splits",  "hills",
                 "cadence",    "heart",     "rate",      "taper",  "trail",   "sprint",
                 "warmup",     "cooldown",  "blisters",  "stride", "track",   "endurance"}},
    {"finance", {"budget",    "savings", "invoice",   "taxes",     "pension",  "mortgage",
                 "interest",  "index",   "fund",      "dividend",  "expenses", "receipts",
                 "insurance", "loan",    "credit",    "account",   "transfer", "salary",
                 "rent",      "bills",   "inflation", "portfolio", "bonds",    "allowance"}},
    {"travel",
     {"flight",  "passport",  "hotel",  "luggage", "itinerary", "train",  "visa",     "airport",
      "booking", "museum",    "hostel", "ferry",   "currency",  "jetlag", "backpack", "map",
      "beach",   "mountains", "lisbon", "kyoto",   "rental",    "border", "layover",  "souvenirs"}},
    {"programming",
     {"compiler", "pointer",  "segfault", "malloc", "struct", "linker", "makefile", "debugger",
      "valgrind", "refactor", "function", "header", "macro",  "thread", "mutex",    "deadlock",
      "buffer",   "overflow", "unittest", "commit", "branch", "rebase", "review",   "release"}},
    {"databases", {"sqlite",    "postgres", "query",   "index", "transaction", "schema",
                   "migration", "vacuum",   "journal", "wal",   "fsync",       "replica",
                   "join",      "primary",  "foreign", "key",   "backup",      "restore",
                   "deadlock",  "planner",  "explain", "btree", "cursor",      "trigger"}},
    {"network",
     {"router", "firewall", "dns",  "subnet",      "gateway",    "latency", "packet",    "tcp",
      "udp",    "wifi",     "vpn",  "certificate", "tls",        "proxy",   "bandwidth", "switch",
      "cable",  "ipv6",     "dhcp", "ping",        "traceroute", "port",    "nat",       "mesh"}},
    {"photography",
     {"aperture",  "shutter", "lens",        "exposure",  "tripod",    "portrait",
      "landscape", "iso",     "raw",         "lightroom", "histogram", "bokeh",
      "focus",     "sensor",  "flash",       "golden",    "hour",      "prime",
      "zoom",      "filter",  "composition", "crop",      "editing",   "mirrorless"}},
    {"music", {"guitar",  "chords",    "scales",     "metronome", "piano",         "practice",
               "rhythm",  "melody",    "tuning",     "strings",   "fingerpicking", "jazz",
               "harmony", "recording", "microphone", "amplifier", "tempo",         "song",
               "lyrics",  "band",      "rehearsal",  "setlist",   "capo",          "arpeggio"}},
    {"home", {"plumbing",   "leak",   "faucet", "drywall", "paint",  "ladder", "boiler", "radiator",
              "insulation", "roof",   "gutter", "tiles",   "grout",  "drill",  "screws", "fusebox",
              "wiring",     "outlet", "mould",  "damp",    "window", "door",   "hinge",  "caulk"}},
    {"parenting", {"toddler",  "bedtime",  "nursery",    "school",   "homework",     "tantrum",
                   "nappies",  "teething", "playdate",   "birthday", "allowance",    "chores",
                   "screen",   "reading",  "swimming",   "lessons",  "pediatrician", "vaccines",
                   "lunchbox", "holiday",  "babysitter", "routine",  "stories",      "lego"}},
    {"books", {"novel",    "chapter", "author",   "fiction",     "biography",   "library",
               "kindle",   "quotes",  "plot",     "character",   "series",      "poetry",
               "essay",    "review",  "bookclub", "paperback",   "translation", "memoir",
               "thriller", "fantasy", "classics", "annotations", "reread",      "shelf"}},
    {"health", {"sleep",    "doctor",      "blood",     "pressure",     "vitamin",  "allergy",
                "headache", "posture",     "dentist",   "prescription", "symptoms", "fever",
                "diet",     "protein",     "hydration", "meditation",   "anxiety",  "therapy",
                "checkup",  "cholesterol", "migraine",  "stretching",   "injury",   "physio"}},
    {"cycling", {"bicycle", "chain",   "derailleur", "tyres",    "puncture", "saddle",
                 "helmet",  "commute", "gears",      "brakes",   "climb",    "descent",
                 "cleats",  "peloton", "gravel",     "touring",  "panniers", "lube",
                 "spokes",  "wheel",   "crank",      "cassette", "sportive", "headwind"}},
    {"astronomy",
     {"telescope", "nebula",     "galaxy",    "jupiter",          "saturn",      "moon",
      "eclipse",   "meteor",     "orbit",     "constellation",    "eyepiece",    "comet",
      "planet",    "stars",      "andromeda", "aurora",           "observatory", "dark",
      "sky",       "equatorial", "mount",     "astrophotography", "mars",        "venus"}},
    {"woodworking",
     {"chisel",  "plane",     "dovetail",   "mortise",   "tenon",   "oak",    "walnut", "sanding",
      "varnish", "workbench", "clamp",      "saw",       "router",  "jig",    "glue",   "grain",
      "lathe",   "joinery",   "sharpening", "whetstone", "cabinet", "drawer", "shelf",  "finish"}},
    {"coffee", {"espresso",   "grinder",    "beans",    "roast",       "pourover",  "aeropress",
                "crema",      "extraction", "burr",     "filter",      "milk",      "latte",
                "cappuccino", "barista",    "tamper",   "portafilter", "brew",      "ratio",
                "acidity",    "ethiopia",   "colombia", "decaf",       "descaling", "kettle"}},
    {"work", {"meeting", "agenda",   "deadline",  "roadmap",     "standup",      "retrospective",
              "manager", "feedback", "promotion", "interview",   "onboarding",   "quarterly",
              "goals",   "okr",      "budget",    "stakeholder", "presentation", "slides",
              "email",   "calendar", "offsite",   "hiring",      "contract",     "estimate"}},
    {"language", {"spanish",     "german",     "japanese",  "vocabulary",    "grammar",  "verbs",
                  "conjugation", "flashcards", "anki",      "pronunciation", "accent",   "tutor",
                  "immersion",   "podcast",    "subtitles", "kanji",         "hiragana", "fluency",
                  "dictionary",  "phrases",    "exam",      "listening",     "speaking", "tenses"}},
    {"car", {"engine",     "oil",     "brakes",    "tyres",    "mot",      "service",
             "battery",    "mileage", "insurance", "garage",   "clutch",   "gearbox",
             "windscreen", "wipers",  "coolant",   "electric", "charging", "range",
             "dashboard",  "warning", "light",     "mechanic", "exhaust",  "alignment"}},
    {"pets", {"puppy",    "kitten", "vet",       "vaccination", "leash",   "walks",
              "training", "treats", "litter",    "grooming",    "fleas",   "worming",
              "kennel",   "collar", "microchip", "food",        "bowl",    "scratching",
              "fetch",    "recall", "crate",     "adoption",    "shelter", "insurance"}},
    {"weather", {"rain",     "forecast", "storm",    "humidity", "temperature", "heatwave",
                 "snow",     "wind",     "drought",  "flood",    "barometer",   "clouds",
                 "sunshine", "frost",    "hail",     "thunder",  "climate",     "season",
                 "monsoon",  "fog",      "umbrella", "uv",       "pollen",      "dewpoint"}},
    {"history", {"empire",      "medieval",   "castle",     "revolution", "archive",   "treaty",
                 "dynasty",     "war",        "battle",     "monarchy",   "roman",     "byzantine",
                 "renaissance", "industrial", "colonial",   "manuscript", "chronicle", "ancient",
                 "pharaoh",     "crusade",    "parliament", "republic",   "siege",     "museum"}},
};
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))
#define NWORDS  24

static const char *const general[] = {
    "check",     "remember",  "try",     "next",    "week",    "plan",     "idea",      "problem",
    "fix",       "better",    "slowly",  "quickly", "again",   "first",    "later",     "today",
    "tomorrow",  "yesterday", "morning", "evening", "weekend", "small",    "large",     "cheap",
    "expensive", "new",       "old",     "good",    "bad",     "simple",   "careful",   "notes",
    "list",      "question",  "answer",  "friend",  "sister",  "brother",  "neighbour", "colleague",
    "shop",      "price",     "order",   "start",   "finish",  "change",   "keep",      "avoid",
    "need",      "want",      "works",   "broke",   "found",   "learned",  "bought",    "read",
    "wrote",     "asked",     "decided", "compare", "measure", "test",     "result",    "time",
    "hours",     "minutes",   "days",    "month",   "year",    "cost",     "reminder",  "important",
    "maybe",     "probably",  "exactly", "instead", "because", "although", "usually",   "sometimes",
    "never",     "always",    "enough",  "more",    "less",    "half",     "twice",     "extra",
    "quiet",     "noisy",     "warm",    "cold",    "early",   "late",     "long",      "short",
    "heavy",     "light",
};
#define NGENERAL (sizeof(general) / sizeof(general[0]))

static const char *const function_words[] = {
    "the", "a",   "and",  "of",   "to",   "in",   "with", "for",   "on",     "is",
    "it",  "was", "that", "this", "but",  "from", "at",   "we",    "my",     "not",
    "be",  "too", "very", "when", "then", "so",   "our",  "after", "before", "into",
};
#define NFUNCTION (sizeof(function_words) / sizeof(function_words[0]))

static const char *const extra_tags[] = {"todo",      "idea",  "2024",   "2025",
                                         "reference", "draft", "family", "weekly"};

/* ------------------------------------------------------------ randomness */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t below(size_t n)
{
	return (size_t)(rnd() % n);
}

static double uniform(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* A topic word, skewed towards the first ones (a few words dominate, as in real notes). */
static const char *topic_word(size_t t)
{
	double u = uniform();
	return topics[t].words[(size_t)(u * u * NWORDS)];
}

/* ------------------------------------------------------------ text */

struct text {
	char *p;
	size_t len, cap;
};

static void put(struct text *t, const char *s)
{
	size_t n = strlen(s);
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = xrealloc(t->p, t->cap);
	}
	memcpy(t->p + t->len, s, n + 1);
	t->len += n;
}

/* A sentence of 6-17 words: topic words, general words and function words. */
static void sentence(struct text *t, size_t topic, size_t other)
{
	size_t n = 6 + below(12);
	for (size_t i = 0; i < n; i++) {
		double u = uniform();
		const char *w = u < 0.40   ? topic_word(topic)
		                : u < 0.47 ? topic_word(other)
		                : u < 0.72 ? general[below(NGENERAL)]
		                           : function_words[below(NFUNCTION)];
		char word[64];
		snprintf(word, sizeof(word), "%s", w);
		if (i == 0 && word[0] >= 'a' && word[0] <= 'z')
			word[0] = (char)(word[0] - 'a' + 'A');
		if (i > 0)
			put(t, u < 0.03 ? ", " : " ");
		put(t, word);
	}
	put(t, uniform() < 0.1 ? "? " : ". ");
}

static void paragraph(struct text *t, size_t topic, size_t other, size_t sentences)
{
	for (size_t i = 0; i < sentences; i++)
		sentence(t, topic, other);
	t->len--; /* the space after the last sentence */
	put(t, "\n\n");
}

/* A topic word other than prev (pointer comparison: the words are unique per topic). */
static const char *next_word(size_t topic, const char *prev)
{
	const char *w;
	do
		w = topic_word(topic);
	while (w == prev);
	return w;
}

/* A title of 2-5 words, most from the topic, no word twice in a row. */
static void title_of(struct text *t, size_t topic)
{
	size_t n = 2 + below(4);
	const char *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		char word[64];
		prev = i == n - 1 && uniform() < 0.3 ? general[below(NGENERAL)]
		                                     : next_word(topic, prev);
		snprintf(word, sizeof(word), "%s", prev);
		if (i == 0)
			word[0] = (char)(word[0] - 'a' + 'A');
		if (i > 0)
			put(t, " ");
		put(t, word);
	}
}

/* The content of a note: its shape drawn at random, or short (one chunk) when forced. */
static void content_of(struct text *t, size_t topic, size_t other, bool force_short)
{
	double shape = force_short ? 0 : uniform();
	if (shape < 0.60) { /* short: one or two paragraphs */
		size_t paras = 1 + below(2);
		for (size_t p = 0; p < paras; p++)
			paragraph(t, topic, other, 1 + below(paras == 1 ? 5 : 3));
	} else if (shape < 0.85) { /* sections: a chunk each */
		size_t sections = 2 + below(3);
		for (size_t s = 0; s < sections; s++) {
			put(t, "## ");
			put(t, topic_word(topic));
			put(t, " ");
			put(t, general[below(NGENERAL)]);
			put(t, "\n\n");
			paragraph(t, topic, other, 2 + below(4));
		}
	} else if (shape < 0.95) { /* a paragraph and a list */
		paragraph(t, topic, other, 1 + below(3));
		size_t items = 4 + below(7);
		for (size_t i = 0; i < items; i++) {
			put(t, "- ");
			put(t, topic_word(topic));
			put(t, " ");
			put(t, general[below(NGENERAL)]);
			put(t, " ");
			put(t, topic_word(uniform() < 0.7 ? topic : other));
			put(t, "\n");
		}
	} else { /* long: several overlapping chunks */
		size_t paras = 6 + below(7);
		for (size_t p = 0; p < paras; p++)
			paragraph(t, topic, other, 3 + below(4));
	}
}

/* ------------------------------------------------------------ queries */

static void query_keywords(struct text *t)
{
	size_t topic = below(NTOPICS), n = 1 + below(4);
	const char *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(t, " ");
		put(t, prev = next_word(topic, prev));
	}
}

static void query_question(struct text *t)
{
	static const char *const forms[] = {
	    "how do I %s the %s",  "what did I note about %s and %s",
	    "why is my %s %s",     "when should I %s %s",
	    "notes on %s with %s", "best way to %s %s",
	};
	size_t topic = below(NTOPICS);
	char q[256];
	snprintf(q, sizeof(q), forms[below(sizeof(forms) / sizeof(forms[0]))], topic_word(topic),
	         topic_word(topic));
	put(t, q);
}

/* Words as a person might type them: inflected or with a letter dropped. */
static void query_variant(struct text *t)
{
	size_t topic = below(NTOPICS), n = 1 + below(3);
	for (size_t i = 0; i < n; i++) {
		char w[64];
		snprintf(w, sizeof(w), "%s", topic_word(topic));
		size_t len = strlen(w);
		if (uniform() < 0.5 && len > 4)
			memmove(w + len / 2, w + len / 2 + 1, len - len / 2); /* typo */
		else
			snprintf(w + len, sizeof(w) - len, "%s", uniform() < 0.5 ? "ing" : "s");
		if (i)
			put(t, " ");
		put(t, w);
	}
}

/* ------------------------------------------------------------ main */

static void fail(const char *what, const struct verror *err)
{
	fprintf(stderr, "search_corpus: %s: %s\n", what, verr_detail(err));
	exit(1);
}

/* NQUERIES queries to path, a quarter of each kind; 0 or 1 (error printed). */
static int write_queries(const char *path, long long nqueries, char *const *titles, size_t ntitles)
{
	FILE *qf = fopen(path, "w");
	if (!qf) {
		perror(path);
		return 1;
	}
	for (long long i = 0; i < nqueries; i++) {
		struct text q = {0};
		switch (i % 4) {
		case 0:
			query_keywords(&q);
			break;
		case 1:
			query_question(&q);
			break;
		case 2:
			query_variant(&q);
			break;
		default:
			if (ntitles)
				put(&q, titles[below(ntitles)]);
			else
				query_keywords(&q);
		}
		fprintf(qf, "%s\n", q.p);
		free(q.p);
	}
	if (fclose(qf) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

/* Prints v as a pgvector text literal. */
static void print_vector(FILE *f, const float *v, int dim)
{
	putc('[', f);
	for (int i = 0; i < dim; i++)
		fprintf(f, i ? ",%.7g" : "%.7g", (double)v[i]);
	putc(']', f);
}

/* The embedder of the settings, for --embed and --vectors. */
static struct embedder *open_embedder(struct config *cfg)
{
	struct verror err;
	struct embedder *e;
	if (config_load(cfg, environ, NULL, &err))
		fail("config", &err);
	log_init(LOG_WARNING, LOG_JSON, stderr);
	if (embedder_new(cfg, &e, &err))
		fail("embedder", &err);
	return e;
}

static void embed_or_die(struct embedder *e, const char *const *texts, size_t n, float *out)
{
	struct verror err;
	if (embedder_embed(e, texts, n, out, &err))
		fail("embed", &err);
	for (size_t i = 0; i < n; i++)
		vec_normalize(out + i * (size_t)e->dim, e->dim);
}

/* --embed QUERIES_FILE */
static int embed_queries(const char *path)
{
	struct config cfg;
	struct embedder *e = open_embedder(&cfg);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	float *v = xmalloc((size_t)e->dim * sizeof(float));
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		const char *t = line;
		embed_or_die(e, &t, 1, v);
		print_vector(stdout, v, e->dim);
		putchar('\n');
	}
	fclose(f);
	free(v);
	embedder_free(e);
	config_free(&cfg);
	return fflush(stdout) != 0;
}

/* --vectors CHUNKS SEED USER_ID [QUERIES_FILE NQUERIES] */
static int embed_chunks(long long want, uint64_t seed, long long user, const char *qpath,
                        long long nqueries)
{
	struct config cfg;
	struct embedder *e = open_embedder(&cfg);
	size_t batch = e->max_batch ? e->max_batch : 64;
	const char **inputs = xmalloc(batch * sizeof(*inputs));
	long long *owner = xmalloc(batch * sizeof(*owner));
	float *v = xmalloc(batch * (size_t)e->dim * sizeof(float));
	size_t nin = 0;
	long long chunks = 0, notes = 0;
	char *titles[256] = {0};
	size_t ntitles = 0;

	rng_state ^= seed * 0xd1b54a32d192ed03ULL;
	while (chunks < want) {
		struct text title = {0}, content = {0};
		size_t topic = below(NTOPICS), other = below(NTOPICS);
		title_of(&title, topic);
		content_of(&content, topic, other, want - chunks < 8);
		struct chunk *cs;
		size_t n = chunker_split(title.p, content.p, &cs);
		if (chunks + (long long)n <= want) {
			notes++;
			if (ntitles < 256 && below(16) == 0)
				titles[ntitles++] = xstrdup(title.p);
			for (size_t i = 0; i < n; i++) {
				inputs[nin] = chunker_embed_input(title.p, cs[i].heading, cs[i].text);
				owner[nin++] = notes;
				if (nin == batch || (i + 1 == n && chunks + (long long)n == want)) {
					embed_or_die(e, inputs, nin, v);
					for (size_t k = 0; k < nin; k++) {
						printf("%lld\t%lld\t", user, owner[k]);
						print_vector(stdout, v + k * (size_t)e->dim, e->dim);
						putchar('\n');
						free((void *)inputs[k]);
					}
					nin = 0;
				}
			}
			chunks += (long long)n;
		}
		chunks_free(cs, n);
		free(title.p);
		free(content.p);
	}
	int rc = qpath ? write_queries(qpath, nqueries, titles, ntitles) : 0;
	for (size_t i = 0; i < ntitles; i++)
		free(titles[i]);
	free(inputs);
	free(owner);
	free(v);
	embedder_free(e);
	config_free(&cfg);
	return rc || fflush(stdout) != 0;
}

static double cpu_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* --keyword-cpu EMAIL QUERIES_FILE REPEAT */
static int keyword_cpu(const char *email, const char *path, long repeat)
{
	struct config cfg;
	struct verror err;
	struct store *st = NULL;
	struct user u;
	if (config_load(&cfg, environ, NULL, &err))
		fail("config", &err);
	log_init(LOG_WARNING, LOG_JSON, stderr);
	struct store_opts opts = {.busy_timeout_ms = 5000, .embedding_dim = cfg.embedding_dim};
	if (store_open(cfg.database_url, &opts, &st, &err) ||
	    store_user_get_by_email(st, email, &u, &err))
		fail("open", &err);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	char line[4096];
	long searches = 0, hits = 0;
	double cpu = 0;
	while (fgets(line, sizeof(line), f)) {
		const char *terms[64];
		size_t nterms = 0;
		for (char *p = line; *p && nterms < 64;) {
			while (*p && !isalnum((unsigned char)*p) && (unsigned char)*p < 0x80)
				p++;
			if (!*p)
				break;
			terms[nterms++] = p;
			while (*p && (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80)) {
				*p = (char)tolower((unsigned char)*p);
				p++;
			}
			if (*p)
				*p++ = '\0';
		}
		double t0 = cpu_us();
		for (long r = 0; r < repeat; r++) {
			struct keyword_hit *h = NULL;
			size_t n = 0;
			if (store_keyword_search(st, u.id, terms, nterms, false, NULL, 0, 200, &h, &n,
			                         &err))
				fail("keyword search", &err);
			free(h);
			hits += (long)n;
			searches++;
		}
		cpu += cpu_us() - t0;
	}
	fclose(f);
	printf("keyword_cpu_us=%.0f\nkeyword_hits=%.1f\n", searches ? cpu / searches : 0,
	       searches ? (double)hits / searches : 0);
	store_close(st);
	config_free(&cfg);
	return 0;
}

/*
 * Adds notes to uid until they hold want_chunks chunks (want_notes 0) or
 * there are want_notes of them; keeps the titles of some for queries.
 */
static void seed_notes(struct svc *svc, int64_t uid, long long want_chunks, long long want_notes,
                       char **titles, size_t *ntitles)
{
	long long chunks = 0, notes = 0, bytes = 0, multi = 0;
	double t0 = time_mono_ms();
	while (want_notes ? notes < want_notes : chunks < want_chunks) {
		struct text title = {0}, content = {0};
		size_t topic = below(NTOPICS), other = below(NTOPICS);
		title_of(&title, topic);
		bool force_short = !want_notes && want_chunks - chunks < 8;
		content_of(&content, topic, other, force_short);
		struct chunk *cs;
		size_t n = chunker_split(title.p, content.p, &cs);
		chunks_free(cs, n);
		if (!want_notes && chunks + (long long)n > want_chunks) {
			/* near the end: a one-chunk note instead */
			free(title.p);
			free(content.p);
			continue;
		}
		const char *tags[3] = {
		    topics[topic].tag, topics[other].tag,
		    extra_tags[below(sizeof(extra_tags) / sizeof(extra_tags[0]))]};
		struct note_fields f = {.title = title.p,
		                        .content = content.p,
		                        .tags = tags,
		                        .ntags = 1 + below(3),
		                        .has_tags = true};
		struct note out;
		struct verror err;
		if (notes_create(svc, uid, &f, &out, &err))
			fail("create a note", &err);
		note_free(&out);
		if (*ntitles < 256 && below(16) == 0)
			titles[(*ntitles)++] = xstrdup(title.p);
		chunks += (long long)n;
		multi += n > 1;
		notes++;
		bytes += (long long)content.len;
		free(title.p);
		free(content.p);
	}
	printf("notes=%lld\nchunks=%lld\nmulti_chunk_notes=%lld\ncontent_bytes=%lld\n"
	       "seed_seconds=%.1f\n",
	       notes, chunks, multi, bytes, (time_mono_ms() - t0) / 1000);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--embed") == 0)
		return embed_queries(argv[2]);
	if ((argc == 5 || argc == 7) && strcmp(argv[1], "--vectors") == 0) {
		long long want = atoll(argv[2]);
		if (want < 1) {
			fputs("search_corpus: CHUNKS must be positive\n", stderr);
			return 2;
		}
		return embed_chunks(want, strtoull(argv[3], NULL, 10), atoll(argv[4]),
		                    argc == 7 ? argv[5] : NULL, argc == 7 ? atoll(argv[6]) : 0);
	}
	if (argc == 5 && strcmp(argv[1], "--keyword-cpu") == 0)
		return keyword_cpu(argv[2], argv[3], atol(argv[4]));
	bool by_notes = (argc == 6 || argc == 8) && strcmp(argv[1], "--notes") == 0;
	if (argc != 6 && !by_notes) {
		fputs("usage: search_corpus CHUNKS EMAIL PASSWORD QUERIES_FILE NQUERIES\n"
		      "       search_corpus --notes NOTES EMAIL PASSWORD SEED [QUERIES_FILE "
		      "NQUERIES]\n"
		      "       search_corpus --keyword-cpu EMAIL QUERIES_FILE REPEAT\n"
		      "       search_corpus --embed QUERIES_FILE\n"
		      "       search_corpus --vectors CHUNKS SEED USER_ID [QUERIES_FILE NQUERIES]\n",
		      stderr);
		return 2;
	}
	char **args = argv + by_notes; /* COUNT EMAIL PASSWORD, then the rest */
	long long want = atoll(args[1]);
	const char *qpath = by_notes ? (argc == 8 ? argv[6] : NULL) : argv[4];
	long long nqueries = by_notes ? (argc == 8 ? atoll(argv[7]) : 0) : atoll(argv[5]);
	if (want < 1 || (qpath && nqueries < 1)) {
		fputs("search_corpus: the counts must be positive\n", stderr);
		return 2;
	}
	if (by_notes)
		rng_state ^= strtoull(argv[5], NULL, 10) * 0xd1b54a32d192ed03ULL;

	umask(077); /* as vault does: the database holds every note */
	struct config cfg;
	struct verror err;
	struct store *st = NULL;
	struct svc svc;
	int applied;
	if (config_load(&cfg, environ, NULL, &err))
		fail("config", &err);
	log_init(LOG_WARNING, LOG_JSON, stderr);
	struct store_opts opts = {.busy_timeout_ms = 5000,
	                          .synchronous_normal = true,
	                          .embedding_dim = cfg.embedding_dim}; /* PostgreSQL: vector(dim) */
	if (store_open(cfg.database_url, &opts, &st, &err) ||
	    store_migrate_up(st, -1, &applied, &err) || svc_init(&svc, st, &cfg, &err))
		fail("open", &err);
	struct user u;
	enum verr rc = auth_register(&svc, args[2], args[3], &u, &err);
	/* --notes adds to a user that may exist (e-mails are stored lower-cased). */
	if (rc == VERR_CONFLICT && by_notes)
		rc = store_user_get_by_email(st, args[2], &u, &err);
	if (rc)
		fail("register", &err);

	/* Titles of some notes, for exact-title queries. */
	char *titles[256] = {0};
	size_t ntitles = 0;
	seed_notes(&svc, u.id, by_notes ? 0 : want, by_notes ? want : 0, titles, &ntitles);
	if (qpath && write_queries(qpath, nqueries, titles, ntitles))
		return 1;
	for (size_t i = 0; i < ntitles; i++)
		free(titles[i]);
	svc_cleanup(&svc);
	store_close(st);
	config_free(&cfg);
	return 0;
}
