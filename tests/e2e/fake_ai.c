/*
 * fake_ai.c - the fake OpenAI-compatible server (tests/common/fake_openai.h)
 * as a program of its own, for the end-to-end tests in the browser.
 *
 * Prints its base URL on one line of standard output, then serves until its
 * standard input closes or it gets SIGTERM/SIGINT. FAKE_AI_ANSWER sets the
 * chat answer (default FAKE_DEFAULT_ANSWER).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/fake_openai.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
{
	struct fake_openai *f;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	const char *url = fake_openai_start(&f);
	if (!url) {
		fputs("fake_ai: cannot start\n", stderr);
		return 1;
	}
	if (getenv("FAKE_AI_ANSWER"))
		fake_openai_set_answer(f, getenv("FAKE_AI_ANSWER"));
	printf("%s\n", url);
	fflush(stdout);
	char buf[256];
	while (!stop && read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	fake_openai_stop(f);
	return 0;
}
