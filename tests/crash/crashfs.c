/*
 * crashfs.c - an LD_PRELOAD shim that turns kill -9 into a power cut, and
 * can fill or fail the disk, for the durability tests (test_durability.c).
 *
 * A process killed on a real system loses nothing it wrote: the kernel
 * keeps the pages and writes them out later. A power cut loses every write
 * not yet forced to the disk by fsync/fdatasync. This shim makes a kill
 * lose exactly that, as SQLite's own crash tests do with their VFS: for
 * regular files under $CRASHFS_DIR, writes are held in this process's
 * memory and reach the file only when the file is synced. Reads, sizes
 * (fstat, stat) and ftruncate see the held data, so the program runs as on
 * any file system until it is killed. Each file held is named on stderr.
 *
 * SQLite's -shm file is left alone: it is memory-mapped shared state that
 * SQLite rebuilds from the WAL after a crash. Mapping a held file is
 * refused with ENODEV and a line on stderr (SQLite then reads with pread),
 * since reads through a map would bypass the held data.
 *
 * While the file $CRASHFS_FULL names exists, a write that would make a file
 * longer fails with ENOSPC, as on a full disk (overwriting allocated bytes
 * still works). While the file $CRASHFS_EIO names exists, reads, writes and
 * syncs of held files fail with EIO. Relative names are taken from the
 * working directory at start-up.
 *
 * Limits: one process at a time (another process opening the same files
 * sees only what was synced); directory entries are not held (creating,
 * removing and renaming files take effect at once); a failed sync keeps the
 * data held rather than dropping it as Linux may; descriptors made by dup()
 * or inherited across exec are not held, nor are files opened by openat(),
 * fopen() or other calls than open/open64, which is what SQLite uses; 64-bit
 * Linux with glibc only.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(off_t) == 8, "crashfs needs a 64-bit off_t: stat and stat64 are one");

#define BLOCK  4096
#define MAX_FD 65536

/* A held file: what the program sees is the real file's first durable
 * bytes, overlaid with the held blocks, cut or zero-extended to size. */
struct file {
	dev_t dev;
	ino_t ino;
	int refs;              /* open descriptors */
	bool live;             /* findable by inode: not unlinked */
	off_t size;            /* as the program sees it */
	off_t durable;         /* the real file's bytes before this are valid */
	unsigned char **block; /* held blocks by index, NULL where not held */
	size_t nblocks;
	char path[PATH_MAX];
	struct file *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int resolved; /* 0 not yet, 1 under way, 2 done: see setup() */
static struct file *files;
static struct file *by_fd[MAX_FD];
static char dir[PATH_MAX]; /* "" when $CRASHFS_DIR is unset: the shim does nothing */
static char full_flag[PATH_MAX], eio_flag[PATH_MAX];

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static off_t (*real_lseek)(int, off_t, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_fstat)(int, struct stat *);
static int (*real_stat)(const char *, struct stat *);
static int (*real_lstat)(const char *, struct stat *);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_unlink)(const char *);

static void *next_symbol(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		fprintf(stderr, "crashfs: no %s after this library\n", name);
		abort();
	}
	return p;
}

/* name made absolute against the working directory, into out. */
static void absolute(const char *name, char *out)
{
	char cwd[PATH_MAX];
	int n = name[0] == '/' || !getcwd(cwd, sizeof(cwd))
	            ? snprintf(out, PATH_MAX, "%s", name)
	            : snprintf(out, PATH_MAX, "%s/%s", cwd, name);
	if (n < 0 || n >= PATH_MAX) {
		fprintf(stderr, "crashfs: %s: name too long\n", name);
		abort();
	}
}

static void resolve(void)
{
	real_open = next_symbol("open");
	real_open64 = next_symbol("open64");
	real_close = next_symbol("close");
	real_pread = next_symbol("pread64");
	real_pwrite = next_symbol("pwrite64");
	real_read = next_symbol("read");
	real_write = next_symbol("write");
	real_lseek = next_symbol("lseek64");
	real_ftruncate = next_symbol("ftruncate64");
	real_fsync = next_symbol("fsync");
	real_fdatasync = next_symbol("fdatasync");
	real_fstat = next_symbol("fstat64");
	real_stat = next_symbol("stat64");
	real_lstat = next_symbol("lstat64");
	real_mmap = next_symbol("mmap64");
	real_unlink = next_symbol("unlink");
}

/*
 * After libc's own start-up, so the environment is there: a sanitizer's
 * runtime may call into this library (mmap, pread) before that.
 */
__attribute__((constructor)) static void configure(void)
{
	const char *d = getenv("CRASHFS_DIR");
	if (d && *d && !realpath(d, dir)) {
		fprintf(stderr, "crashfs: CRASHFS_DIR %s: %s\n", d, strerror(errno));
		abort();
	}
	const char *f = getenv("CRASHFS_FULL"), *e = getenv("CRASHFS_EIO");
	if (f && *f)
		absolute(f, full_flag);
	if (e && *e)
		absolute(e, eio_flag);
}

/*
 * Resolves the real functions once. Not with pthread_once: ThreadSanitizer's
 * runtime maps memory (through this library's mmap) while it initialises,
 * and its pthread_once interceptor crashes when called then.
 */
static void setup(void)
{
	int expect = 0;
	if (__atomic_load_n(&resolved, __ATOMIC_ACQUIRE) == 2)
		return;
	if (__atomic_compare_exchange_n(&resolved, &expect, 1, false, __ATOMIC_ACQUIRE,
	                                __ATOMIC_ACQUIRE)) {
		resolve();
		__atomic_store_n(&resolved, 2, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&resolved, __ATOMIC_ACQUIRE) != 2)
		sched_yield();
}

static bool flag_set(const char *flag)
{
	return flag[0] && access(flag, F_OK) == 0;
}

/* The held file of fd, or NULL; lock mu before using it. */
static struct file *held(int fd)
{
	setup();
	return fd >= 0 && fd < MAX_FD ? __atomic_load_n(&by_fd[fd], __ATOMIC_ACQUIRE) : NULL;
}

static struct file *find_live(dev_t dev, ino_t ino)
{
	for (struct file *f = files; f; f = f->next)
		if (f->live && f->dev == dev && f->ino == ino)
			return f;
	return NULL;
}

/* n, at most one block. */
static size_t upto(off_t n)
{
	return n < BLOCK ? (size_t)n : BLOCK;
}

static void drop_blocks(struct file *f, size_t from)
{
	for (size_t b = from; b < f->nblocks; b++) {
		free(f->block[b]);
		f->block[b] = NULL;
	}
}

/* Forgets f once it is unlinked and closed. */
static void forget_if_gone(struct file *f)
{
	if (f->refs > 0 || f->live)
		return;
	struct file **pp = &files;
	while (*pp != f)
		pp = &(*pp)->next;
	*pp = f->next;
	drop_blocks(f, 0);
	free(f->block);
	free(f);
}

/* Reads n bytes at off as the program sees them (off + n <= f->size). */
static int view(struct file *f, int fd, unsigned char *buf, off_t off, size_t n)
{
	while (n > 0) {
		size_t b = (size_t)(off / BLOCK), at = (size_t)(off % BLOCK);
		size_t piece = BLOCK - at < n ? BLOCK - at : n;
		if (b < f->nblocks && f->block[b]) {
			memcpy(buf, f->block[b] + at, piece);
		} else {
			size_t real = off < f->durable ? (size_t)(f->durable - off) : 0;
			if (real > piece)
				real = piece;
			size_t got = 0;
			while (got < real) {
				ssize_t r = real_pread(fd, buf + got, real - got, off + (off_t)got);
				if (r < 0)
					return -1;
				if (r == 0)
					break;
				got += (size_t)r;
			}
			memset(buf + got, 0, piece - got);
		}
		buf += piece;
		off += (off_t)piece;
		n -= piece;
	}
	return 0;
}

static ssize_t held_pread(struct file *f, int fd, void *buf, size_t n, off_t off)
{
	if (flag_set(eio_flag)) {
		errno = EIO;
		return -1;
	}
	if (off >= f->size)
		return 0;
	if ((off_t)n > f->size - off)
		n = (size_t)(f->size - off);
	return view(f, fd, buf, off, n) ? -1 : (ssize_t)n;
}

static ssize_t held_pwrite(struct file *f, int fd, const void *buf, size_t n, off_t off)
{
	if (flag_set(eio_flag)) {
		errno = EIO;
		return -1;
	}
	if (off + (off_t)n > f->size && flag_set(full_flag)) {
		errno = ENOSPC;
		return -1;
	}
	const unsigned char *p = buf;
	for (size_t done = 0; done < n;) {
		off_t o = off + (off_t)done;
		size_t b = (size_t)(o / BLOCK), at = (size_t)(o % BLOCK);
		size_t piece = BLOCK - at < n - done ? BLOCK - at : n - done;
		if (b >= f->nblocks) {
			size_t nb = b + 1 > 2 * f->nblocks ? b + 1 : 2 * f->nblocks;
			unsigned char **grown = realloc(f->block, nb * sizeof(*grown));
			if (!grown)
				abort();
			memset(grown + f->nblocks, 0, (nb - f->nblocks) * sizeof(*grown));
			f->block = grown;
			f->nblocks = nb;
		}
		if (!f->block[b]) {
			/* Start from the block as the program sees it: zeros past the end. */
			unsigned char *blk = calloc(1, BLOCK);
			off_t start = (off_t)b * BLOCK;
			if (!blk)
				abort();
			if (start < f->size && view(f, fd, blk, start, upto(f->size - start))) {
				free(blk);
				return -1;
			}
			f->block[b] = blk;
		}
		memcpy(f->block[b] + at, p + done, piece);
		done += piece;
	}
	if (off + (off_t)n > f->size)
		f->size = off + (off_t)n;
	return (ssize_t)n;
}

static void held_truncate(struct file *f, off_t len)
{
	if (len < f->durable)
		f->durable = len;
	drop_blocks(f, (size_t)((len + BLOCK - 1) / BLOCK));
	size_t b = (size_t)(len / BLOCK);
	if (len % BLOCK && b < f->nblocks && f->block[b])
		memset(f->block[b] + len % BLOCK, 0, BLOCK - (size_t)(len % BLOCK));
	f->size = len;
}

/* Writes the held blocks out, so the real file is what the program sees. */
static int held_sync(struct file *f, int fd)
{
	if (flag_set(eio_flag)) {
		errno = EIO;
		return -1;
	}
	struct stat st;
	if (real_fstat(fd, &st) || (st.st_size > f->durable && real_ftruncate(fd, f->durable)))
		return -1;
	for (size_t b = 0; b < f->nblocks; b++) {
		off_t start = (off_t)b * BLOCK;
		if (!f->block[b] || start >= f->size)
			continue;
		size_t n = upto(f->size - start);
		for (size_t done = 0; done < n;) {
			ssize_t w =
			    real_pwrite(fd, f->block[b] + done, n - done, start + (off_t)done);
			if (w < 0)
				return -1;
			done += (size_t)w;
		}
	}
	if (real_ftruncate(fd, f->size))
		return -1;
	drop_blocks(f, 0);
	f->durable = f->size;
	return 0;
}

/* Starts holding fd, just opened as path, if it is a regular file under dir. */
static int track(int fd, const char *path, int flags)
{
	char real[PATH_MAX];
	struct stat st;
	size_t dl = strlen(dir);
	size_t pl;
	if (fd < 0 || !dir[0] || !realpath(path, real) || strncmp(real, dir, dl) != 0 ||
	    real[dl] != '/' || ((pl = strlen(real)) >= 4 && strcmp(real + pl - 4, "-shm") == 0) ||
	    real_fstat(fd, &st) || !S_ISREG(st.st_mode))
		return fd;
	if (fd >= MAX_FD || (flags & O_APPEND)) {
		fprintf(stderr, "crashfs: cannot hold %s (%s)\n", real,
		        fd >= MAX_FD ? "descriptor too high" : "O_APPEND");
		real_close(fd);
		errno = ENOTSUP;
		return -1;
	}
	pthread_mutex_lock(&mu);
	struct file *f = find_live(st.st_dev, st.st_ino);
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			abort();
		*f = (struct file){.dev = st.st_dev,
		                   .ino = st.st_ino,
		                   .live = true,
		                   .size = st.st_size,
		                   .durable = st.st_size,
		                   .next = files};
		snprintf(f->path, sizeof(f->path), "%s", real);
		files = f;
		fprintf(stderr, "crashfs: holding writes to %s until synced\n", real);
	} else if (flags & O_TRUNC) {
		held_truncate(f, 0);
	}
	f->refs++;
	__atomic_store_n(&by_fd[fd], f, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&mu);
	return fd;
}

/* ---------------------------------------------------------------- the calls */

static bool needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

int open(const char *path, int flags, ...)
{
	setup();
	va_list ap;
	va_start(ap, flags);
	mode_t mode = needs_mode(flags) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	return track(real_open(path, flags, mode), path, flags);
}

int open64(const char *path, int flags, ...)
{
	setup();
	va_list ap;
	va_start(ap, flags);
	mode_t mode = needs_mode(flags) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	return track(real_open64(path, flags, mode), path, flags);
}

int close(int fd)
{
	struct file *f = held(fd);
	if (f) {
		pthread_mutex_lock(&mu);
		__atomic_store_n(&by_fd[fd], NULL, __ATOMIC_RELEASE);
		f->refs--;
		/* A live file keeps its held data for the next open, as the page cache would. */
		forget_if_gone(f);
		pthread_mutex_unlock(&mu);
	}
	return real_close(fd);
}

/* Runs expr with f locked if fd is held, else returns fallback. */
#define WITH_HELD(fd, fallback, expr)                                                              \
	do {                                                                                       \
		struct file *f = held(fd);                                                         \
		if (!f)                                                                            \
			return fallback;                                                           \
		pthread_mutex_lock(&mu);                                                           \
		__typeof__(expr) result_ = expr;                                                   \
		pthread_mutex_unlock(&mu);                                                         \
		return result_;                                                                    \
	} while (0)

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	WITH_HELD(fd, real_pread(fd, buf, n, off), held_pread(f, fd, buf, n, off));
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	WITH_HELD(fd, real_pwrite(fd, buf, n, off), held_pwrite(f, fd, buf, n, off));
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

/* read and write at the descriptor's offset, which the real file keeps. */
static ssize_t held_read(struct file *f, int fd, void *buf, size_t n)
{
	off_t pos = real_lseek(fd, 0, SEEK_CUR);
	ssize_t r = pos < 0 ? -1 : held_pread(f, fd, buf, n, pos);
	if (r > 0)
		real_lseek(fd, pos + r, SEEK_SET);
	return r;
}

static ssize_t held_write(struct file *f, int fd, const void *buf, size_t n)
{
	off_t pos = real_lseek(fd, 0, SEEK_CUR);
	ssize_t r = pos < 0 ? -1 : held_pwrite(f, fd, buf, n, pos);
	if (r > 0)
		real_lseek(fd, pos + r, SEEK_SET);
	return r;
}

ssize_t read(int fd, void *buf, size_t n)
{
	WITH_HELD(fd, real_read(fd, buf, n), held_read(f, fd, buf, n));
}

ssize_t write(int fd, const void *buf, size_t n)
{
	WITH_HELD(fd, real_write(fd, buf, n), held_write(f, fd, buf, n));
}

static off_t held_lseek(struct file *f, int fd, off_t off, int whence)
{
	return whence == SEEK_END ? real_lseek(fd, f->size + off, SEEK_SET)
	                          : real_lseek(fd, off, whence);
}

off_t lseek(int fd, off_t off, int whence)
{
	WITH_HELD(fd, real_lseek(fd, off, whence), held_lseek(f, fd, off, whence));
}

off_t lseek64(int fd, off_t off, int whence)
{
	return lseek(fd, off, whence);
}

static int held_ftruncate(struct file *f, off_t len)
{
	if (len < 0) {
		errno = EINVAL;
		return -1;
	}
	held_truncate(f, len);
	return 0;
}

int ftruncate(int fd, off_t len)
{
	WITH_HELD(fd, real_ftruncate(fd, len), held_ftruncate(f, len));
}

int ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

/* The held data goes to the file, then the real call makes it durable (outside the lock). */
static int sync_with(int fd, int (*real)(int))
{
	struct file *f = held(fd);
	if (f) {
		pthread_mutex_lock(&mu);
		int rc = held_sync(f, fd);
		pthread_mutex_unlock(&mu);
		if (rc)
			return rc;
	}
	return real(fd);
}

int fsync(int fd)
{
	setup();
	return sync_with(fd, real_fsync);
}

int fdatasync(int fd)
{
	setup();
	return sync_with(fd, real_fdatasync);
}

/* The size the program sees, if st is a held file. */
static void fix_size(struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return;
	pthread_mutex_lock(&mu);
	struct file *f = find_live(st->st_dev, st->st_ino);
	if (f)
		st->st_size = f->size;
	pthread_mutex_unlock(&mu);
}

int fstat(int fd, struct stat *st)
{
	setup();
	int rc = real_fstat(fd, st);
	if (rc == 0 && held(fd))
		fix_size(st);
	return rc;
}

int fstat64(int fd, struct stat64 *st)
{
	return fstat(fd, (struct stat *)st);
}

int stat(const char *path, struct stat *st)
{
	setup();
	int rc = real_stat(path, st);
	if (rc == 0 && dir[0])
		fix_size(st);
	return rc;
}

int stat64(const char *path, struct stat64 *st)
{
	return stat(path, (struct stat *)st);
}

int lstat(const char *path, struct stat *st)
{
	setup();
	int rc = real_lstat(path, st);
	if (rc == 0 && dir[0])
		fix_size(st);
	return rc;
}

int lstat64(const char *path, struct stat64 *st)
{
	return lstat(path, (struct stat *)st);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct file *f = held(fd);
	if (f) {
		fprintf(stderr, "crashfs: refused to map %s: reads would bypass the held writes\n",
		        f->path);
		errno = ENODEV;
		return MAP_FAILED;
	}
	return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

int unlink(const char *path)
{
	setup();
	struct stat st;
	bool known =
	    dir[0] && real_lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1;
	int rc = real_unlink(path);
	if (rc == 0 && known) {
		pthread_mutex_lock(&mu);
		struct file *f = find_live(st.st_dev, st.st_ino);
		if (f) {
			f->live = false; /* the inode number may be reused */
			forget_if_gone(f);
		}
		pthread_mutex_unlock(&mu);
	}
	return rc;
}
