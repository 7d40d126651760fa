/*
 * export.c - `vault export`: a user's notes as Markdown files in a folder.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "services/export.h"
#include "services/notes.h"

static const char usage[] =
    "Usage: vault export --user EMAIL [--overwrite] DIR\n"
    "\n"
    "Writes each of EMAIL's notes to DIR as a Markdown file, with YAML\n"
    "front matter (id, title, tags, aliases, created, updated) that Obsidian and\n"
    "`vault import` read back: an imported note at the path it came from,\n"
    "another named after its title. The file's time is the note's last update.\n"
    "DIR is created if needed and must be empty, unless --overwrite is given:\n"
    "then files of the same name are replaced and no other file is touched.\n";

static bool dir_empty(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return true;
	DIR *d = fdopendir(fd);
	bool empty = true;
	for (struct dirent *e; d && (e = readdir(d));)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = false;
			break;
		}
	if (d)
		closedir(d);
	return empty;
}

/*
 * Makes the folders of name ("a/b/c.md": a and a/b) under dirfd, none of
 * them a symbolic link (an export writes only under its folder).
 */
static int make_folders(int dirfd, const char *name)
{
	char *path = xstrdup(name);
	int rc = 0;
	for (char *slash = strchr(path, '/'); slash && rc == 0; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		struct stat st;
		if (mkdirat(dirfd, path, 0700) != 0 && errno != EEXIST)
			rc = -1;
		else if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		         !S_ISDIR(st.st_mode))
			rc = -1, errno = ENOTDIR;
		*slash = '/';
	}
	free(path);
	return rc;
}

/* Writes text to dir/name through a temporary file beside it, with the note's time. */
static int write_file(int dirfd, const char *name, const char *text, int64_t updated_ms)
{
	const char *slash = strrchr(name, '/');
	char *tmp = slash ? xasprintf("%.*s/.%s.tmp", (int)(slash - name), name, slash + 1)
	                  : xasprintf(".%s.tmp", name);
	int rc = -1;
	if (make_folders(dirfd, name) != 0)
		goto out;
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto out;
	size_t n = strlen(text), off = 0;
	while (off < n) {
		ssize_t w = write(fd, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlinkat(dirfd, tmp, 0);
			goto out;
		}
		off += (size_t)w;
	}
	struct timespec times[2] = {
	    {.tv_sec = updated_ms / 1000, .tv_nsec = (updated_ms % 1000) * 1000000},
	    {.tv_sec = updated_ms / 1000, .tv_nsec = (updated_ms % 1000) * 1000000}};
	futimens(fd, times);
	if (close(fd) == 0 && renameat(dirfd, tmp, dirfd, name) == 0)
		rc = 0;
	else
		unlinkat(dirfd, tmp, 0);
out:
	free(tmp);
	return rc;
}

struct export_to_dir {
	const char *dir;
	int dirfd;
	struct export_names names;
	size_t written;
};

static enum verr write_note(void *ctx, const struct note *n, struct verror *err)
{
	struct export_to_dir *to = ctx;
	char *name = export_note_path(&to->names, n);
	char *text = export_markdown(n);
	enum verr rc = VERR_OK;
	if (write_file(to->dirfd, name, text, n->updated_at))
		rc = verr_set(err, VERR_INTERNAL, "cannot write %s/%s: %s", to->dir, name,
		              strerror(errno));
	else
		to->written++;
	free(text);
	free(name);
	return rc;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {{"user", required_argument, NULL, 'u'},
	                                     {"overwrite", no_argument, NULL, 'o'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {0}};
	const char *email = NULL;
	bool overwrite = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			email = optarg;
			break;
		case 'o':
			overwrite = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!email || optind != argc - 1) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *dir = argv[optind];
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "vault: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (!overwrite && !dir_empty(dir)) {
		fprintf(stderr,
		        "vault: %s is not empty (--overwrite replaces files of the same name)\n",
		        dir);
		return 1;
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "vault: cannot open %s: %s\n", dir, strerror(errno));
		return 1;
	}

	struct config cfg;
	struct svc svc;
	struct verror err;
	cli_svc_open(&cfg, &svc);
	int64_t uid = cli_user_id(&svc, email);
	struct export_to_dir to = {.dir = dir, .dirfd = dirfd};
	int rc = 0;
	if (export_each(&svc, uid, write_note, &to, &err)) {
		fprintf(stderr, "vault: %s\n", verr_detail(&err));
		rc = 1;
	}
	if (rc == 0 && syncfs(dirfd) != 0) {
		fprintf(stderr, "vault: cannot sync %s: %s\n", dir, strerror(errno));
		rc = 1;
	}
	if (rc == 0)
		printf("exported %zu notes to %s\n", to.written, dir);
	export_names_free(&to.names);
	close(dirfd);
	cli_svc_close(&cfg, &svc);
	return rc;
}
