/*
 * pdf.c - a PDF's text with poppler, in a child process with limits (see pdf.h).
 */
#include "services/pdf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <poppler.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/text.h"
#include "core/timeutil.h"

#define CHILD_MEMORY (1024L * 1024 * 1024)

/* The sanitizers reserve terabytes of address space: no memory limit can hold them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LIMIT_MEMORY 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LIMIT_MEMORY 0
#endif
#endif
#ifndef LIMIT_MEMORY
#define LIMIT_MEMORY 1
#endif

enum verr pdf_text(const void *data, size_t n, char **text, struct verror *err)
{
	*text = NULL;
	if (n > PDF_BYTES_MAX)
		return verr_set(err, VERR_TOO_LARGE, "the PDF is over %d MiB",
		                PDF_BYTES_MAX / (1024 * 1024));
	GBytes *bytes = g_bytes_new_static(data, n);
	GError *gerr = NULL;
	PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
	g_bytes_unref(bytes);
	if (!doc) {
		bool locked =
		    gerr && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED;
		g_clear_error(&gerr);
		return verr_set(err, VERR_INVALID,
		                locked ? "the PDF is encrypted" : "not a PDF vault can read");
	}
	enum verr rc = VERR_OK;
	int pages = poppler_document_get_n_pages(doc);
	if (pages > PDF_PAGES_MAX) {
		rc = verr_set(err, VERR_INVALID, "the PDF has %d pages; at most %d are read", pages,
		              PDF_PAGES_MAX);
		goto out;
	}
	struct buf b;
	buf_init(&b, PDF_TEXT_MAX);
	bool words = false;
	for (int i = 0; i < pages && rc == VERR_OK; i++) {
		PopplerPage *page = poppler_document_get_page(doc, i);
		char *t = page ? poppler_page_get_text(page) : NULL;
		size_t len = t ? strlen(t) : 0, k = 0;
		for (size_t j = 0; j < len; j++) /* a form feed is our page break */
			if (t[j] != PDF_PAGE_BREAK)
				t[k++] = t[j];
		len = k;
		for (size_t j = 0; j < len && !words; j++)
			words = !strchr(" \t\r\n\v", t[j]);
		char *clean = text_utf8_sanitize_n(t ? t : "", len, &len);
		if ((i && buf_add(&b, (char[]){PDF_PAGE_BREAK}, 1)) || buf_add(&b, clean, len))
			rc = verr_set(err, VERR_TOO_LARGE, "the PDF holds more than %d KiB of text",
			              PDF_TEXT_MAX / 1024);
		free(clean);
		g_free(t);
		if (page)
			g_object_unref(page);
	}
	if (rc == VERR_OK && !words)
		rc = verr_set(err, VERR_INVALID,
		              "the PDF holds no text (a scan? vault does not read images)");
	if (rc == VERR_OK)
		*text = buf_steal(&b);
	buf_free(&b);
out:
	g_object_unref(doc);
	return rc;
}

int pdf_text_main(int cpu_seconds)
{
	/* Limits set by the child on itself, before the first byte of the file. */
	if (cpu_seconds > 0) {
		struct rlimit cpu = {(rlim_t)cpu_seconds, (rlim_t)cpu_seconds + 1};
		struct rlimit mem = {CHILD_MEMORY, CHILD_MEMORY};
		if (setrlimit(RLIMIT_CPU, &cpu) || (LIMIT_MEMORY && setrlimit(RLIMIT_AS, &mem)))
			return 3;
	}
	struct buf in;
	buf_init(&in, PDF_BYTES_MAX);
	char chunk[65536];
	for (;;) {
		ssize_t r = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf_add(&in, chunk, (size_t)r)) {
			buf_free(&in);
			return 2;
		}
	}
	char *text;
	struct verror err;
	enum verr rc = pdf_text(in.p ? in.p : "", in.len, &text, &err);
	const char *out = rc ? verr_detail(&err) : text;
	fwrite(out, 1, strlen(out), stdout);
	free(text);
	buf_free(&in);
	return rc == VERR_OK ? 0 : rc == VERR_TOO_LARGE ? 2 : 1;
}

/*
 * Feeds data to the child and reads what it writes until it closes its
 * output; false if the deadline passed (*late), poll failed or it wrote
 * more than any answer (the caller then kills it).
 */
static bool converse(int to, int from, const char *data, size_t n, struct buf *out, double deadline,
                     bool *late)
{
	size_t off = 0;
	bool open_in = n > 0, ok = false;
	if (!open_in)
		close(to);
	for (;;) {
		struct pollfd p[2] = {{.fd = from, .events = POLLIN},
		                      {.fd = open_in ? to : -1, .events = POLLOUT}};
		int wait_ms = (int)((deadline - time_mono_ms() / 1000) * 1000);
		int ready = wait_ms > 0 ? poll(p, 2, wait_ms) : 0;
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0) {
			*late = ready == 0;
			break;
		}
		if (open_in && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(to, data + off, n - off);
			if (w > 0)
				off += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == n) {
				close(to); /* done, or the child stopped reading */
				open_in = false;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char chunk[65536];
			ssize_t r = read(from, chunk, sizeof(chunk));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				ok = r == 0;
				break;
			}
			if (buf_add(out, chunk, (size_t)r))
				break;
		}
	}
	if (open_in)
		close(to);
	return ok;
}

/* Children reading PDFs now, across the process: each may take a core and 1 GiB. */
static atomic_int children;

enum verr pdf_text_isolated(const char *exe, const void *data, size_t n, int cpu_seconds,
                            char **text, struct verror *err)
{
	*text = NULL;
	if (n > PDF_BYTES_MAX)
		return verr_set(err, VERR_TOO_LARGE, "the PDF is over %d MiB",
		                PDF_BYTES_MAX / (1024 * 1024));
	if (atomic_fetch_add(&children, 1) >= PDF_CHILDREN_MAX) {
		atomic_fetch_sub(&children, 1);
		return verr_retry(err, VERR_UNAVAILABLE, 5,
		                  "other PDFs are being read; try again in a few seconds");
	}
	enum verr rc = VERR_OK;
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		rc =
		    verr_set(err, VERR_UNAVAILABLE, "cannot read the PDF now: %s", strerror(errno));
		goto done;
	}
	/* The child starts with default signals, unblocked: not the server's. */
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaddset(&defaults, sig);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	char cpu[16];
	snprintf(cpu, sizeof(cpu), "%d", cpu_seconds);
	char *argv[] = {"vault", "pdf-text", "--cpu", cpu, NULL}, *envp[] = {NULL};
	pid_t pid;
	int sp = posix_spawn(&pid, exe ? exe : "/proc/self/exe", &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	if (sp) {
		rc = verr_set(err, VERR_UNAVAILABLE, "cannot read the PDF now: %s", strerror(sp));
		goto done;
	}
	fcntl(in[1], F_SETFL, O_NONBLOCK);

	/* Our writes to a child that stopped reading raise SIGPIPE in this thread: keep it. */
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	struct buf answer;
	buf_init(&answer, PDF_TEXT_MAX + 4096);
	double deadline = time_mono_ms() / 1000 + 2.0 * cpu_seconds;
	bool late = false;
	bool talked = converse(in[1], out[0], data, n, &answer, deadline, &late);
	in[1] = -1; /* converse closed it */
	struct timespec zero = {0};
	while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	/* It closed its output, so it is exiting; at the deadline it is killed. */
	if (!talked)
		kill(pid, SIGKILL);
	int status = 0;
	bool reaped = false;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			reaped = true;
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		if (time_mono_ms() / 1000 >= deadline && !late) {
			kill(pid, SIGKILL);
			late = true;
		}
		nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
	}
	int code = reaped && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (late || (reaped && WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU))
		rc = verr_set(err, VERR_INVALID, "the PDF took too long to read");
	else if (talked && code == 0 && text_utf8_valid(answer.p ? answer.p : "", answer.len))
		*text = buf_steal(&answer);
	else if (talked && (code == 1 || code == 2) && answer.len && answer.len < VERR_DETAIL_MAX)
		rc = verr_set(err, code == 1 ? VERR_INVALID : VERR_TOO_LARGE, "%s", answer.p);
	else
		rc = verr_set(err, VERR_INVALID, "the PDF could not be read");
	buf_free(&answer);
done:
	for (int k = 0; k < 2; k++) {
		if (in[k] >= 0)
			close(in[k]);
		if (out[k] >= 0)
			close(out[k]);
	}
	atomic_fetch_sub(&children, 1);
	return rc;
}
