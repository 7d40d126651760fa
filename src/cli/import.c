/*
 * import.c - `vault import`: a folder of Markdown files (an Obsidian
 * vault) into a user's notes, once or (--watch) for as long as it runs.
 *
 * The walk reads every .md and .txt file under the folder, skipping
 * dot-files and dot-folders (.obsidian, .git, .trash) and never following
 * a symbolic link, so nothing outside the folder is read; services/import
 * does the rest. --watch imports again whenever inotify reports a change
 * (after a quiet moment, so a save of many files is one run): each run is
 * incremental, so only the files that changed are written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/mem.h"
#include "services/import.h"
#include "services/notes.h"
#include "services/obsidian.h"

static const char usage[] =
    "Usage: vault import --user EMAIL [--prune] [--dry-run] [--watch] PATH\n"
    "\n"
    "Imports every .md and .txt file under PATH (an Obsidian vault or any folder\n"
    "of Markdown) as EMAIL's notes: titles, tags, aliases and dates from the front\n"
    "matter, [[links]] between notes. Dot-folders (.obsidian, .git, .trash) and\n"
    "symbolic links are skipped. Importing again is incremental: unchanged files\n"
    "are skipped, changed ones update their notes, renamed ones keep them.\n"
    "\n"
    "  --prune    delete the notes whose files are gone (else they are kept)\n"
    "  --dry-run  say what would change, change nothing\n"
    "  --watch    keep running and import every change (inotify)\n"
    "\n"
    "Exits 1 if any file could not be imported.\n";

/* A file is read up to this: past it, it is over the note's limit whatever its front matter. */
#define READ_MAX (NOTE_CONTENT_MAX + OBSIDIAN_FRONT_MAX + 16)
/* Folders deeper than this are not walked (a bound on the walk's open descriptors). */
#define DEPTH_MAX 64
/* --watch: a run starts once the folder has been quiet this long. */
#define QUIET_MS 300
#define BUSY_MS  3000

struct files {
	struct import_file *v;
	size_t n, cap;
};

static void files_free(struct files *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free((char *)fs->v[i].path);
		free((char *)fs->v[i].data);
		free((char *)fs->v[i].error);
	}
	free(fs->v);
	memset(fs, 0, sizeof(*fs));
}

static bool note_file(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && (strcasecmp(dot, ".md") == 0 || strcasecmp(dot, ".txt") == 0);
}

/*
 * Reads the regular file at dirfd/name (at most READ_MAX + 1 bytes) into fs
 * as rel; one that cannot be read goes in with why, so its note is kept.
 */
static void read_file(int dirfd, const char *name, const char *rel, struct files *fs)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st = {0};
	char *data = NULL, *why = NULL;
	size_t len = 0;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		why = xasprintf("cannot read the file: %s", strerror(fd < 0 ? errno : EINVAL));
	} else {
		size_t want = st.st_size > READ_MAX ? READ_MAX + 1 : (size_t)st.st_size;
		data = xmalloc(want + 1);
		while (len < want) {
			ssize_t r = read(fd, data + len, want - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				why = xasprintf("cannot read the file: %s", strerror(errno));
			if (r <= 0)
				break;
			len += (size_t)r;
		}
	}
	if (fd >= 0)
		close(fd);
	if (!data)
		data = xcalloc(1, 1);
	data[len] = '\0';
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? 2 * fs->cap : 256;
		fs->v = xrealloc(fs->v, fs->cap * sizeof(*fs->v));
	}
	fs->v[fs->n++] = (struct import_file){
	    xstrdup(rel), data, len,
	    (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000, why};
}

/*
 * Walks the folder dirfd (rel: its path from the root, "" for the root),
 * reading note files into fs; with ino >= 0, watches each folder too.
 */
static void walk(int dirfd, const char *rel, int depth, struct files *fs, int ino, const char *abs)
{
	DIR *d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return;
	}
	if (ino >= 0 && inotify_add_watch(ino, abs,
	                                  IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
	                                      IN_MOVED_TO | IN_DONT_FOLLOW | IN_ONLYDIR) < 0)
		fprintf(stderr, "vault: cannot watch %s: %s\n", abs, strerror(errno));
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue; /* ., .., and dot-files and folders (.obsidian, .git, .trash) */
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		char *path = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		if (S_ISDIR(st.st_mode) && depth < DEPTH_MAX) {
			int sub = openat(dirfd, e->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			char *sabs = xasprintf("%s/%s", abs, e->d_name);
			if (sub >= 0)
				walk(sub, path, depth + 1, fs, ino, sabs);
			free(sabs);
		} else if (S_ISREG(st.st_mode) && note_file(e->d_name)) {
			read_file(dirfd, e->d_name, path, fs);
		}
		free(path);
	}
	closedir(d);
}

/* The progress bar, on a terminal only. */
static void progress(void *arg, size_t done, size_t total)
{
	int *last = arg;
	int pct = total ? (int)(done * 100 / total) : 100;
	if (pct == *last && done != total)
		return;
	*last = pct;
	char bar[41];
	memset(bar, ' ', 40);
	memset(bar, '#', (size_t)pct * 40 / 100);
	bar[40] = '\0';
	fprintf(stderr, "\r[%s] %3d%% %zu/%zu", bar, pct, done, total);
	if (done == total)
		fputc('\n', stderr);
}

/* One import of the folder; returns the exit status (0, or 1 if anything failed). */
static int run(struct svc *svc, int64_t uid, const char *dir, const struct import_opts *base,
               int ino)
{
	struct files fs = {0};
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "vault: cannot open %s: %s\n", dir, strerror(errno));
		return 1;
	}
	walk(dirfd, "", 0, &fs, ino, dir);
	int last = -1;
	struct import_opts opts = *base;
	if (isatty(STDERR_FILENO)) {
		opts.progress = progress;
		opts.arg = &last;
	}
	struct import_report r;
	struct verror err = {0};
	enum verr rc = import_files(svc, uid, fs.v, fs.n, &opts, &r, &err);
	for (size_t i = 0; i < r.nmsgs; i++) {
		const struct import_message *m = &r.msgs[i];
		if (m->outcome == IMPORT_FAILED)
			fprintf(stderr, "vault: %s: %s\n", m->path, m->text);
		else if (opts.dry_run)
			printf("%s %s%s%s%s%s\n", import_outcome_name(m->outcome),
			       m->from ? m->from : "", m->from ? " -> " : "", m->path,
			       m->text ? ": " : "", m->text ? m->text : "");
		else if (m->text)
			fprintf(stderr, "vault: %s: %s\n", m->path, m->text);
	}
	if (rc)
		fprintf(stderr, "vault: import stopped: %s\n", verr_detail(&err));
	printf("%sadded %zu, updated %zu, unchanged %zu, renamed %zu, deleted %zu, kept %zu, "
	       "failed %zu\n",
	       opts.dry_run ? "dry run, nothing written: " : "", r.added, r.updated, r.unchanged,
	       r.renamed, r.deleted, r.kept, r.failed);
	fflush(stdout);
	int status = rc || r.failed ? 1 : 0;
	import_report_free(&r);
	files_free(&fs);
	return status;
}

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Imports again after every change until SIGINT or SIGTERM; returns the last status. */
static int watch(struct svc *svc, int64_t uid, const char *dir, const struct import_opts *opts,
                 int ino)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int status = 0;
	char events[64 * 1024] __attribute__((aligned(8)));
	log_emit(LOG_INFO, "import_watching", json_pack("{s:s}", "path", dir));
	while (!stopping) {
		struct pollfd p = {ino, POLLIN, 0};
		if (poll(&p, 1, -1) <= 0)
			continue; /* EINTR: a signal, seen above */
		/* Drain until the folder has been quiet for QUIET_MS, or for at most
		 * BUSY_MS: a file written without pause still gets imported. */
		for (int waited = 0; !stopping && waited < BUSY_MS && poll(&p, 1, QUIET_MS) > 0;
		     waited += QUIET_MS)
			if (read(ino, events, sizeof(events)) < 0 && errno != EINTR &&
			    errno != EAGAIN)
				break;
		if (!stopping) {
			status = run(svc, uid, dir, opts, ino);
			log_emit(LOG_INFO, "import_synced", json_pack("{s:i}", "status", status));
		}
	}
	log_emit(LOG_INFO, "import_stopped", json_object());
	return status;
}

int cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"user", required_argument, NULL, 'u'}, {"prune", no_argument, NULL, 'p'},
	    {"dry-run", no_argument, NULL, 'n'},    {"watch", no_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},       {0}};
	const char *email = NULL;
	struct import_opts opts = {0};
	bool watching = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			email = optarg;
			break;
		case 'p':
			opts.prune = true;
			break;
		case 'n':
			opts.dry_run = true;
			break;
		case 'w':
			watching = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!email || optind != argc - 1 || (watching && opts.dry_run)) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *dir = argv[optind];
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vault: %s is not a folder\n", dir);
		return 1;
	}

	struct config cfg;
	struct svc svc;
	cli_svc_open(&cfg, &svc);
	int64_t uid = cli_user_id(&svc, email);
	int ino = watching ? inotify_init1(IN_NONBLOCK | IN_CLOEXEC) : -1;
	if (watching && ino < 0) {
		fprintf(stderr, "vault: inotify: %s\n", strerror(errno));
		cli_svc_close(&cfg, &svc);
		return 1;
	}
	int status = run(&svc, uid, dir, &opts, ino);
	if (watching)
		status = watch(&svc, uid, dir, &opts, ino);
	if (ino >= 0)
		close(ino);
	cli_svc_close(&cfg, &svc);
	return status;
}
