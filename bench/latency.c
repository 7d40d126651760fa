/*
 * bench/latency.c - one client's latency, from an address of its own.
 *
 * GETs a URL over one keep-alive connection, one request after another,
 * for a number of seconds, from a chosen local address (127.0.0.2 is
 * another client than wrk's 127.0.0.1 on loopback), with a bearer token;
 * prints the count and the p50, p99 and max latency in microseconds.
 *   latency URL TOKEN SECONDS [LOCAL_ADDRESS]
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p, (void)u;
	return size * n;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: latency URL TOKEN SECONDS [LOCAL_ADDRESS]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *h = curl_easy_init();
	char auth[4096];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);
	struct curl_slist *hdrs = curl_slist_append(NULL, auth);
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (argc > 4)
		curl_easy_setopt(h, CURLOPT_INTERFACE, argv[4]);
	size_t n = 0, cap = 1 << 16, failed = 0;
	double *lat = malloc(cap * sizeof(*lat));
	double end = now_s() + atof(argv[3]);
	while (now_s() < end) {
		double t0 = now_s();
		long status = 0;
		if (curl_easy_perform(h) != CURLE_OK ||
		    (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status), status != 200)) {
			failed++;
			continue;
		}
		if (n == cap)
			lat = realloc(lat, (cap *= 2) * sizeof(*lat));
		lat[n++] = (now_s() - t0) * 1e6;
	}
	if (n == 0) {
		printf("LATENCY requests=0 failed=%zu\n", failed);
		return 1;
	}
	qsort(lat, n, sizeof(*lat), cmp);
	printf("LATENCY requests=%zu failed=%zu p50_us=%.0f p99_us=%.0f max_us=%.0f\n", n, failed,
	       lat[n / 2], lat[(size_t)(n * 0.99)], lat[n - 1]);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return 0;
}
