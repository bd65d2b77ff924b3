// SPDX-License-Identifier: GPL-2.0
/*
 * Stress of vfio_ixgbevf_mig: for STRESS_SECS seconds (default 30) several
 * threads hammer ONE VF, each picking its next operation at random:
 *
 *   set_state     VFIO_DEVICE_FEATURE SET MIG_DEVICE_STATE, any target: the
 *                 seven valid states (biased towards RUNNING so traffic gets
 *                 windows), ERROR and out-of-range values
 *   get_state, data_size
 *   log_start/log_stop/log_report   DMA logging, valid and invalid requests
 *   fd_read/fd_write/fd_info/fd_pread/fd_wrongway/fd_close   the migration
 *                 data fds the state changes produced (kept in a pool that
 *                 every thread uses): reads of saving fds, writes of valid,
 *                 partial, over-long and garbage streams to resuming fds,
 *                 VFIO_MIG_GET_PRECOPY_INFO, pread, I/O in the wrong
 *                 direction, close
 *   reset         VFIO_DEVICE_RESET (FLR), rate-limited
 *   reopen        device close + reopen (same iommufd/IOAS), rate-limited
 *
 * while a traffic thread runs the userspace VF driver (igbvf_drv +
 * mig_traffic, as vfio_mig_test's migrate_under_traffic): the peer sends to
 * the VF and the VF sends to the peer; when a reset or a restored stream
 * stalls the rings the thread re-initialises the VF and carries on. The last
 * CALM_MS of every CYCLE_MS are a calm window (no reset, no reopen, no state
 * but RUNNING; logging and data fd operations go on), in which the VF is
 * re-initialised and traffic must flow: most windows must carry frames both
 * ways.
 *
 * Every operation's result is checked against the errnos its uAPI documents
 * (docs/migration.md, docs/dirty-tracking.md, and the VFIO core's own where
 * it answers first); anything else fails the test. The per-kind counts are
 * printed. A watchdog thread fails the test when any operation takes longer
 * than its bound (hang), dumps the stuck thread's kernel stack and asks the
 * kernel for its blocked tasks (sysrq w); the harness timeout and the rig's
 * hung-task detector back it up. At the end the device must be usable:
 * reset, RUNNING, every data fd dead, a full save parses, and frames cross
 * both ways byte-exact (DMA check).
 *
 * Environment (see rig/init.sh): VF_BDF, PEER_IF, MIG_DRIVER (SKIP unless
 * vfio_ixgbevf_mig), STRESS_SECS. STRESS_WD_SELFTEST=1 makes one worker
 * stall inside an operation (in userspace) to show that the watchdog fails
 * the test: that run must FAIL. STRESS_VERBOSE=1 logs every VF re-init and
 * what each calm window carried.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dirty_util.h"
#include "igbvf_drv.h"
#include "kselftest_harness.h"
#include "mig_util.h"
#include "vfio_util.h"

#define MIG_DRIVER_NAME	"vfio_ixgbevf_mig"
#define IOVA_DRV	0x10000000ull
#define IOVA_LOG2	0x40000000ull	/* a second logged range (nothing mapped) */
#define LOG2_LEN	(64ull << 20)
#define NWORKERS	4
#define POOL		8
#define STREAM_BUF	(2 * MIG_MAX_STREAM)
#define ERRNO_MAX	134

/* Watchdog bounds (TCG is slow; an FLR alone takes >100 ms). */
#define WD_OP_MS	20000
#define WD_REOPEN_MS	30000
#define WD_TRAFFIC_MS	60000	/* a VF re-init waits up to 3 s per mailbox step */

/* Rate limits of the expensive, disruptive operations. */
#define RESET_EVERY_MS	250
#define REOPEN_EVERY_MS	2500

/*
 * Calm windows: the last CALM_MS of every CYCLE_MS. No reset, no reopen and
 * no state but RUNNING is asked for then (a device found in ERROR is reset,
 * as QEMU would); DMA logging and data fd operations go on. The traffic
 * thread re-initialises the VF once per window, so frames flow while DMA
 * logging races the RX tail trap.
 */
#define CYCLE_MS	2500
#define CALM_MS		1000

enum op {
	OP_SET_STATE,
	OP_GET_STATE,
	OP_DATA_SIZE,
	OP_LOG_START,
	OP_LOG_STOP,
	OP_LOG_REPORT,
	OP_FD_READ,
	OP_FD_WRITE,
	OP_FD_INFO,
	OP_FD_PREAD,
	OP_FD_WRONGWAY,
	OP_FD_CLOSE,
	OP_RESET,
	OP_REOPEN,
	OP_TRAFFIC_INIT,
	OP_TRAFFIC_PUMP,
	NOPS,
	OP_IDLE = -1,
};

static const char *const op_names[NOPS] = {
	[OP_SET_STATE] = "set_state",
	[OP_GET_STATE] = "get_state",
	[OP_DATA_SIZE] = "data_size",
	[OP_LOG_START] = "log_start",
	[OP_LOG_STOP] = "log_stop",
	[OP_LOG_REPORT] = "log_report",
	[OP_FD_READ] = "fd_read",
	[OP_FD_WRITE] = "fd_write",
	[OP_FD_INFO] = "fd_precopy_info",
	[OP_FD_PREAD] = "fd_pread",
	[OP_FD_WRONGWAY] = "fd_wrong_direction",
	[OP_FD_CLOSE] = "fd_close",
	[OP_RESET] = "reset",
	[OP_REOPEN] = "close_reopen",
	[OP_TRAFFIC_INIT] = "traffic_vf_init",
	[OP_TRAFFIC_PUMP] = "traffic_pump",
};

/*
 * The errnos each operation may return here, 0 terminated, with where they
 * are documented. Documented errnos that cannot happen in this test are left
 * out on purpose, so that they fail it:
 *  - EIO (BAR0 with memory decoding off): nothing here turns decoding off;
 *  - EOPNOTSUPP (PF without the exports, unknown mandatory record), E2BIG and
 *    ENOSPC (PF refusing a context): the rig's PF has the exports and the only
 *    stream ever restored is the VF's own, whose records are all known;
 *  - ENOMEM outside resuming writes and RESUMING -> STOP: no allocation
 *    fails without failslab.
 * Operations with variants (deliberately bad requests) narrow this further
 * in their own code.
 */
static const int allowed[NOPS][8] = {
	/* docs/migration.md: blocked arc, ERROR, bad target, bad stream at
	 * RESUMING -> STOP (EINVAL); quiesce poll budget (ETIMEDOUT); a record
	 * or stream over its length bound at RESUMING -> STOP (ENOMEM:
	 * pure/stream/format.rs RecordTooLarge/TooLarge, as vfio_mig_test's bad_records
	 * expects; the table in docs/migration.md lists it for writes only). */
	[OP_SET_STATE] = { EINVAL, ETIMEDOUT, ENOMEM },
	[OP_GET_STATE] = { 0 },
	[OP_DATA_SIZE] = { 0 },
	/* docs/dirty-tracking.md: already started (EBUSY); the core's range
	 * checks (EINVAL, E2BIG) and the driver's page size (EINVAL). */
	[OP_LOG_START] = { EBUSY, EINVAL, E2BIG },
	/* STOP without START is a no-op. */
	[OP_LOG_STOP] = { 0 },
	/* window outside a range, or logging not started (another thread). */
	[OP_LOG_REPORT] = { EINVAL },
	/* saving fd: PRE_COPY's temporary end (ENOMSG), torn down (ENODEV). */
	[OP_FD_READ] = { ENOMSG, ENODEV },
	/* resuming fd: bad header (EINVAL), past the announced length or 64 KiB
	 * (ENOMEM), torn down (ENODEV). */
	[OP_FD_WRITE] = { EINVAL, ENOMEM, ENODEV },
	/* not in PRE_COPY or a resuming fd (EINVAL), torn down (ENODEV). */
	[OP_FD_INFO] = { EINVAL, ENODEV },
	/* stream files have no offset. */
	[OP_FD_PREAD] = { ESPIPE },
	/* read of a write-only fd and vice versa: the VFS. */
	[OP_FD_WRONGWAY] = { EBADF },
	[OP_FD_CLOSE] = { 0 },
	/* pci_try_reset_function(): device lock taken (a concurrent close's reset). */
	[OP_RESET] = { EAGAIN },
	[OP_REOPEN] = { 0 },
	[OP_TRAFFIC_INIT] = { 0 },
	[OP_TRAFFIC_PUMP] = { 0 },
};

static bool errno_allowed(enum op op, int err)
{
	for (int i = 0; i < 8 && allowed[op][i]; i++)
		if (allowed[op][i] == err)
			return true;
	return false;
}

/* Per-thread heartbeat, watched by the watchdog. */
struct hb {
	const char *name;
	pid_t tid;
	_Atomic int op;			/* OP_IDLE between operations */
	_Atomic uint64_t since_ms;	/* when op started */
	uint64_t limit_ms;
	bool reported;
};

struct pool_ent {
	int fd;			/* -1: free */
	bool resume;		/* write-only resuming fd */
	size_t wpos;		/* resuming: bytes of the valid stream written */
};

struct worker {
	int idx;
	pthread_t th;
	bool started;
	struct hb hb;
	uint32_t rng;
	uint8_t buf[4096];
	uint64_t bm[64 * 1024 / 64];	/* report bitmap: 4 MiB at 4 KiB pages */
};

static struct {
	/* the device */
	const char *bdf;
	struct vfio_dev dev;		/* guarded by gate (write: reopen) */
	int iommufd;			/* ours, kept across reopens */
	uint32_t ioas_id;
	pthread_mutex_t devlock;	/* guards devfd */
	int devfd;			/* dev.device_fd, -1 while closed */
	pthread_rwlock_t gate;		/* traffic (read) vs close/reopen (write) */

	/* the userspace driver and the traffic */
	struct igbvf vf;
	struct mig_traffic t;
	bool t_on;
	_Atomic bool drv_down;
	uint64_t drv_mem;		/* bytes of the driver's DMA area */

	/* the valid stream saved before the hammer */
	uint8_t *stream;
	size_t stream_len;

	/* data fds */
	pthread_mutex_t poollock;
	struct pool_ent pool[POOL];
	unsigned int pool_next;

	/* control */
	uint64_t t0;
	_Atomic bool stop;
	_Atomic bool stop_wd;
	_Atomic bool hung;
	_Atomic bool fatal;
	char fatal_msg[256];
	_Atomic uint64_t last_reset_ms, last_reopen_ms;

	/* results */
	_Atomic unsigned long done[NOPS];
	_Atomic unsigned long ok[NOPS];
	_Atomic unsigned long err[NOPS][ERRNO_MAX];
	_Atomic unsigned long unexpected;
	_Atomic unsigned long skipped_closed;	/* device closed at the time */
	_Atomic unsigned long binds_refused;	/* reopen: old file still held */
	_Atomic unsigned long fds_made, traffic_stalls, traffic_inits_failed;
	_Atomic unsigned long bad_values;
	_Atomic uint64_t max_ms[NOPS];
	unsigned long calm_windows, calm_rx, calm_tx;	/* windows with frames each way */
	pthread_mutex_t printlock;
	unsigned int printed;

	struct worker w[NWORKERS];
	struct hb traffic_hb;
	pthread_t traffic_th, wd_th;
	bool traffic_started, wd_started;
} g;

static uint32_t rnd(uint32_t *s)
{
	/* xorshift32 */
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static unsigned int rnd_below(uint32_t *s, unsigned int n)
{
	return n ? rnd(s) % n : 0;
}

static bool calm_now(void)
{
	return (now_ms() - g.t0) % CYCLE_MS >= CYCLE_MS - CALM_MS;
}

static uint64_t cycle_now(void)
{
	return (now_ms() - g.t0) / CYCLE_MS;
}

/* Unbuffered: visible even if the process hangs afterwards. */
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	pthread_mutex_lock(&g.printlock);
	fprintf(stderr, "# %s\n", line);
	pthread_mutex_unlock(&g.printlock);
}

static void hb_begin(struct hb *h, enum op op)
{
	atomic_store(&h->since_ms, now_ms());
	atomic_store(&h->op, op);
}

static void hb_end(struct hb *h)
{
	atomic_store(&h->op, OP_IDLE);
}

static void fatal(const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(&g.fatal, true))
		return;
	va_start(ap, fmt);
	vsnprintf(g.fatal_msg, sizeof(g.fatal_msg), fmt, ap);
	va_end(ap);
	say("FATAL: %s", g.fatal_msg);
}

/*
 * Records one finished operation: ret >= 0 is a success, otherwise err is
 * the errno, checked against `want` (0-terminated, NULL: the op's table).
 */
static void record(enum op op, long ret, int err, const int *want, const char *what)
{
	bool ok;

	atomic_fetch_add(&g.done[op], 1);
	if (ret >= 0) {
		atomic_fetch_add(&g.ok[op], 1);
		return;
	}
	if (err > 0 && err < ERRNO_MAX)
		atomic_fetch_add(&g.err[op][err], 1);
	if (want) {
		ok = false;
		for (int i = 0; want[i]; i++)
			ok |= want[i] == err;
	} else {
		ok = errno_allowed(op, err);
	}
	if (ok)
		return;
	atomic_fetch_add(&g.unexpected, 1);
	pthread_mutex_lock(&g.printlock);
	if (g.printed++ < 20)
		fprintf(stderr, "# UNEXPECTED: %s (%s) failed with %s (%d)\n", op_names[op],
			what ? what : "", strerror(err), err);
	pthread_mutex_unlock(&g.printlock);
}

static void bad_value(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	atomic_fetch_add(&g.bad_values, 1);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&g.printlock);
	if (g.printed++ < 20)
		fprintf(stderr, "# BAD VALUE: %s\n", line);
	pthread_mutex_unlock(&g.printlock);
}

/* ---- device fd: every operation works on its own dup ------------------- */

/*
 * A dup of the device fd, or -1 while it is closed. Holding a dup makes a
 * concurrent close/reopen's release run when the last dup goes (in that
 * thread), without any risk of an fd number being reused under us.
 */
static int dev_get(void)
{
	int fd = -1;

	pthread_mutex_lock(&g.devlock);
	if (g.devfd >= 0)
		fd = fcntl(g.devfd, F_DUPFD_CLOEXEC, 3);
	pthread_mutex_unlock(&g.devlock);
	if (fd < 0)
		atomic_fetch_add(&g.skipped_closed, 1);
	return fd;
}

static int feature(int fd, uint32_t flags, void *payload, size_t len)
{
	uint64_t buf[(sizeof(struct vfio_device_feature) + 64) / 8] = {};
	struct vfio_device_feature *f = (void *)buf;

	f->argsz = sizeof(*f) + len;
	f->flags = flags;
	memcpy(f->data, payload, len);
	if (ioctl(fd, VFIO_DEVICE_FEATURE, f))
		return -errno;
	memcpy(payload, f->data, len);
	return 0;
}

static int raw_get_state(int fd, uint32_t *st)
{
	struct vfio_device_feature_mig_state m = { .data_fd = -1 };
	int ret = feature(fd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			  &m, sizeof(m));

	*st = m.device_state;
	return ret;
}

/* ---- data fd pool -------------------------------------------------------- */

static void pool_put(int fd)
{
	int acc = fcntl(fd, F_GETFL);
	int old = -1;

	pthread_mutex_lock(&g.poollock);
	for (int i = 0; i < POOL; i++) {
		struct pool_ent *e = &g.pool[(g.pool_next + i) % POOL];

		if (e->fd < 0) {
			e->fd = fd;
			e->resume = acc >= 0 && (acc & O_ACCMODE) == O_WRONLY;
			e->wpos = 0;
			fd = -1;
			break;
		}
	}
	if (fd >= 0) {
		/* Full: the oldest slot goes. */
		struct pool_ent *e = &g.pool[g.pool_next];

		old = e->fd;
		e->fd = fd;
		e->resume = acc >= 0 && (acc & O_ACCMODE) == O_WRONLY;
		e->wpos = 0;
		g.pool_next = (g.pool_next + 1) % POOL;
	}
	pthread_mutex_unlock(&g.poollock);
	if (old >= 0)
		close(old);
}

/* A dup of a random pool fd (kind wanted: -1 any, 0 saving, 1 resuming). */
static int pool_get(uint32_t *rng, int kind, bool *resume, size_t *wpos, int *slot)
{
	int fd = -1, start = rnd_below(rng, POOL);

	pthread_mutex_lock(&g.poollock);
	for (int i = 0; i < POOL; i++) {
		int k = (start + i) % POOL;
		struct pool_ent *e = &g.pool[k];

		if (e->fd < 0 || (kind >= 0 && e->resume != (kind == 1)))
			continue;
		fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 3);
		if (fd >= 0) {
			*resume = e->resume;
			*wpos = e->wpos;
			*slot = k;
		}
		break;
	}
	pthread_mutex_unlock(&g.poollock);
	return fd;
}

static void pool_advance(int slot, size_t wpos)
{
	pthread_mutex_lock(&g.poollock);
	g.pool[slot].wpos = wpos;
	pthread_mutex_unlock(&g.poollock);
}

static int pool_take(uint32_t *rng)
{
	int fd = -1, start = rnd_below(rng, POOL);

	pthread_mutex_lock(&g.poollock);
	for (int i = 0; i < POOL && fd < 0; i++) {
		struct pool_ent *e = &g.pool[(start + i) % POOL];

		if (e->fd >= 0) {
			fd = e->fd;
			e->fd = -1;
		}
	}
	pthread_mutex_unlock(&g.poollock);
	return fd;
}

/* ---- operations ---------------------------------------------------------- */

static const uint32_t valid_states[] = {
	VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_STOP_COPY,
	VFIO_DEVICE_STATE_RESUMING, VFIO_DEVICE_STATE_RUNNING_P2P,
	VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_PRE_COPY_P2P,
};

static void op_set_state(struct worker *w)
{
	static const uint32_t invalid[] = { VFIO_DEVICE_STATE_ERROR, 8, 0x7fffffff };
	struct vfio_device_feature_mig_state m = { .data_fd = -1 };
	uint32_t r = rnd_below(&w->rng, 100);
	bool bad = false, calm = calm_now();
	char what[48];
	int fd, ret;

	if (r < 35 || calm)
		m.device_state = VFIO_DEVICE_STATE_RUNNING;
	else if (r < 92)
		m.device_state = valid_states[rnd_below(&w->rng, 7)];
	else {
		m.device_state = invalid[rnd_below(&w->rng, 3)];
		bad = true;
	}
	fd = dev_get();
	if (fd < 0)
		return;
	snprintf(what, sizeof(what), "-> %s (%u)", vfio_mig_state_name(m.device_state),
		 m.device_state);
	ret = feature(fd, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
		      &m, sizeof(m));
	close(fd);
	if (bad) {
		static const int want[] = { EINVAL, 0 };

		/* ERROR and out-of-range targets: always EINVAL, never an fd. */
		record(OP_SET_STATE, ret ? -1 : 0, -ret, want, what);
		if (!ret)
			bad_value("set_state %s succeeded", what);
	} else {
		record(OP_SET_STATE, ret ? -1 : 0, -ret, NULL, what);
	}
	if (!ret && m.data_fd >= 0) {
		atomic_fetch_add(&g.fds_made, 1);
		pool_put(m.data_fd);
	}
	/* Calm: a device stuck in ERROR is reset, as QEMU would. */
	if (calm && ret == -EINVAL && (fd = dev_get()) >= 0) {
		uint32_t st;

		if (!raw_get_state(fd, &st) && st == VFIO_DEVICE_STATE_ERROR) {
			ret = ioctl(fd, VFIO_DEVICE_RESET);
			record(OP_RESET, ret, errno, NULL, "out of ERROR");
		}
		close(fd);
	}
}

static void op_get_state(struct worker *w)
{
	uint32_t st = ~0u;
	int fd = dev_get(), ret;

	(void)w;
	if (fd < 0)
		return;
	ret = raw_get_state(fd, &st);
	close(fd);
	record(OP_GET_STATE, ret ? -1 : 0, -ret, NULL, NULL);
	if (!ret && st > VFIO_DEVICE_STATE_PRE_COPY_P2P)
		bad_value("GET MIG_DEVICE_STATE = %u", st);
}

static void op_data_size(struct worker *w)
{
	struct vfio_device_feature_mig_data_size m = {};
	int fd = dev_get(), ret;

	(void)w;
	if (fd < 0)
		return;
	ret = feature(fd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
		      &m, sizeof(m));
	close(fd);
	record(OP_DATA_SIZE, ret ? -1 : 0, -ret, NULL, NULL);
	if (!ret && m.stop_copy_length != g.stream_len)
		bad_value("MIG_DATA_SIZE %llu, the stream is %zu bytes",
			  (unsigned long long)m.stop_copy_length, g.stream_len);
}

static void op_log_start(struct worker *w)
{
	static struct dlog_range many[257];
	static const int want_valid[] = { EBUSY, 0 };
	static const int want_einval[] = { EINVAL, 0 };
	static const int want_e2big[] = { E2BIG, 0 };
	static const int want_pgsz[] = { EINVAL, EBUSY, 0 };
	struct dlog_range r[2] = {
		{ IOVA_DRV, g.drv_mem },
		{ IOVA_LOG2, LOG2_LEN },
	};
	struct vfio_dev d = { .device_fd = dev_get() };
	uint32_t v = rnd_below(&w->rng, 100);
	uint64_t ps = DPAGE;
	const int *want;
	const char *what;
	int ret;

	if (d.device_fd < 0)
		return;
	if (v < 75) {
		what = "valid";
		want = want_valid;
		if (v < 10)
			ps = 512;	/* rounded up to 4 KiB and reported back */
		ret = dlog_start(&d, &ps, r, 2);
		if (!ret && ps != DPAGE)
			bad_value("log_start page size 512 -> %llu", (unsigned long long)ps);
	} else if (v < 85) {
		what = "overlapping ranges";
		want = want_einval;
		r[1] = (struct dlog_range){ IOVA_DRV, DPAGE };
		ret = dlog_start(&d, &ps, r, 2);
	} else if (v < 92) {
		what = "257 ranges";
		want = want_e2big;
		for (int i = 0; i < 257; i++)
			many[i] = (struct dlog_range){ IOVA_LOG2 + (uint64_t)i * 2 * DPAGE, DPAGE };
		ret = dlog_start(&d, &ps, many, 257);
	} else {
		what = "page size 12 KiB";
		want = want_pgsz;
		ps = 3 * DPAGE;
		ret = dlog_start(&d, &ps, &r[1], 1);
	}
	close(d.device_fd);
	record(OP_LOG_START, ret, -ret, want, what);
	if (!ret && want != want_valid)
		bad_value("log_start with %s succeeded", what);
}

static void op_log_stop(struct worker *w)
{
	struct vfio_dev d = { .device_fd = dev_get() };
	int ret;

	(void)w;
	if (d.device_fd < 0)
		return;
	ret = dlog_stop(&d);
	close(d.device_fd);
	record(OP_LOG_STOP, ret, -ret, NULL, NULL);
}

static void op_log_report(struct worker *w)
{
	static const int want_outside[] = { EINVAL, 0 };
	struct vfio_dev d = { .device_fd = dev_get() };
	uint32_t v = rnd_below(&w->rng, 100);
	uint64_t iova, len;
	int ret;

	if (d.device_fd < 0)
		return;
	if (v < 45) {
		iova = IOVA_DRV;
		len = g.drv_mem;
	} else if (v < 90) {
		/* a random window of the second range, at most 4 MiB */
		uint64_t pages = 1 + rnd_below(&w->rng, 1024);
		uint64_t first = rnd_below(&w->rng, LOG2_LEN / DPAGE - pages + 1);

		iova = IOVA_LOG2 + first * DPAGE;
		len = pages * DPAGE;
	} else {
		/* across the end of the second range: never inside one */
		iova = IOVA_LOG2 + LOG2_LEN - DPAGE;
		len = 2 * DPAGE;
	}
	ret = dlog_report(&d, iova, len, DPAGE, w->bm);
	close(d.device_fd);
	record(OP_LOG_REPORT, ret, -ret, v >= 90 ? want_outside : NULL,
	       v >= 90 ? "window across a range end" : "window inside a range");
	if (!ret && v >= 90)
		bad_value("REPORT across a range end succeeded");
}

static void op_fd_read(struct worker *w)
{
	bool resume;
	size_t wpos, want = 1 + rnd_below(&w->rng, 700);
	int slot, fd = pool_get(&w->rng, 0, &resume, &wpos, &slot);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, w->buf, want);
	record(OP_FD_READ, n, errno, NULL, "saving fd");
	if (n > (ssize_t)want)
		bad_value("read %zd of %zu bytes", n, want);
	close(fd);
}

static void op_fd_write(struct worker *w)
{
	bool resume;
	size_t wpos, len;
	int slot, fd = pool_get(&w->rng, 1, &resume, &wpos, &slot);
	uint32_t v = rnd_below(&w->rng, 100);
	const char *what;
	ssize_t n;

	if (fd < 0)
		return;
	if (v < 15) {
		/* garbage: a header no VF accepts (once 48 bytes are in) */
		what = "garbage";
		len = 32 + rnd_below(&w->rng, 64);
		for (size_t i = 0; i < len; i++)
			w->buf[i] = (uint8_t)rnd(&w->rng);
	} else if (wpos >= g.stream_len) {
		what = "past the announced length";
		len = 16;
		memset(w->buf, 0, len);
	} else {
		what = "valid stream chunk";
		len = v < 30 ? g.stream_len - wpos : 1 + rnd_below(&w->rng, 200);
		if (len > g.stream_len - wpos)
			len = g.stream_len - wpos;
		memcpy(w->buf, g.stream + wpos, len);
	}
	n = write(fd, w->buf, len);
	record(OP_FD_WRITE, n, errno, NULL, what);
	if (n >= 0 && (size_t)n != len)
		bad_value("short write %zd of %zu", n, len);
	if (n > 0 && v >= 15)
		pool_advance(slot, wpos + n);
	close(fd);
}

static void op_fd_info(struct worker *w)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	bool resume;
	size_t wpos;
	int slot, fd = pool_get(&w->rng, -1, &resume, &wpos, &slot), ret;

	if (fd < 0)
		return;
	ret = ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info);
	record(OP_FD_INFO, ret, errno, NULL, resume ? "resuming fd" : "saving fd");
	if (!ret && (resume || info.initial_bytes > MIG_INITIAL_LEN || info.dirty_bytes))
		bad_value("PRECOPY_INFO on a %s fd: initial %llu dirty %llu",
			  resume ? "resuming" : "saving",
			  (unsigned long long)info.initial_bytes,
			  (unsigned long long)info.dirty_bytes);
	close(fd);
}

static void op_fd_pread(struct worker *w)
{
	bool resume;
	size_t wpos;
	int slot, fd = pool_get(&w->rng, -1, &resume, &wpos, &slot);
	ssize_t n;

	if (fd < 0)
		return;
	if (resume)
		n = pwrite(fd, g.stream, 8, 0);
	else
		n = pread(fd, w->buf, 8, 0);
	record(OP_FD_PREAD, n, errno, NULL, resume ? "pwrite" : "pread");
	if (n >= 0)
		bad_value("%s on a migration fd succeeded", resume ? "pwrite" : "pread");
	close(fd);
}

static void op_fd_wrongway(struct worker *w)
{
	bool resume;
	size_t wpos;
	int slot, fd = pool_get(&w->rng, -1, &resume, &wpos, &slot);
	ssize_t n;

	if (fd < 0)
		return;
	if (resume)
		n = read(fd, w->buf, 16);
	else
		n = write(fd, g.stream, 16);
	record(OP_FD_WRONGWAY, n, errno, NULL, resume ? "read of a resuming fd" :
						       "write of a saving fd");
	if (n >= 0)
		bad_value("%s succeeded", resume ? "read of a resuming fd" : "write of a saving fd");
	close(fd);
}

static void op_fd_close(struct worker *w)
{
	int fd = pool_take(&w->rng);

	if (fd < 0)
		return;
	record(OP_FD_CLOSE, close(fd), errno, NULL, NULL);
}

/* Rate limit: true if this thread may run the op now. */
static bool rate_ok(_Atomic uint64_t *last, uint64_t every)
{
	uint64_t now = now_ms(), prev = atomic_load(last);

	return now - prev >= every && atomic_compare_exchange_strong(last, &prev, now);
}

static void op_reset(struct worker *w)
{
	int fd, ret;

	(void)w;
	fd = dev_get();
	if (fd < 0)
		return;
	ret = ioctl(fd, VFIO_DEVICE_RESET);
	record(OP_RESET, ret, errno, NULL, NULL);
	close(fd);
}

/*
 * Device close and reopen. The traffic is paused (the driver's BAR0 mmaps
 * would keep the device file alive), the fd leaves the shared slot, and the
 * device is closed: its release runs here, or in whichever thread drops the
 * last dup of it. The iommufd and its IOAS stay, so the driver's DMA memory
 * stays mapped at the same IOVA; BIND is refused (EINVAL: the cdev path does
 * not open a device twice) until that release happened.
 */
static void op_reopen(struct worker *w)
{
	struct vfio_dev share = {
		.mode = VFIO_MODE_CDEV_IOMMUFD, .iommufd = g.iommufd, .ioas_id = g.ioas_id,
	};
	struct timespec until;
	uint64_t end;
	int ret;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	if (pthread_rwlock_timedwrlock(&g.gate, &until)) {
		atomic_fetch_add(&g.skipped_closed, 1);
		return;
	}
	pthread_mutex_lock(&g.devlock);
	g.devfd = -1;
	pthread_mutex_unlock(&g.devlock);
	g.dev.iommufd_borrowed = true;
	vfio_dev_close(&g.dev);
	usleep(rnd_below(&w->rng, 30000));
	end = now_ms() + WD_REOPEN_MS / 2;
	for (;;) {
		ret = vfio_dev_open_shared(&g.dev, g.bdf, &share);
		if (!ret)
			break;
		if (ret != -EINVAL || now_ms() > end) {
			record(OP_REOPEN, -1, -ret, NULL, vfio_errmsg());
			fatal("reopen of %s: %s", g.bdf, vfio_errmsg());
			pthread_rwlock_unlock(&g.gate);
			return;
		}
		atomic_fetch_add(&g.binds_refused, 1);
		usleep(1000);
	}
	pthread_mutex_lock(&g.devlock);
	g.devfd = g.dev.device_fd;
	pthread_mutex_unlock(&g.devlock);
	/* The close reset the VF: its rings are gone. */
	atomic_store(&g.drv_down, true);
	pthread_rwlock_unlock(&g.gate);
	record(OP_REOPEN, 0, 0, NULL, NULL);
}

struct op_weight {
	enum op op;
	unsigned int w;
	void (*fn)(struct worker *w);
};

static const struct op_weight weights[] = {
	{ OP_SET_STATE, 30, op_set_state },
	{ OP_GET_STATE, 5, op_get_state },
	{ OP_DATA_SIZE, 3, op_data_size },
	{ OP_LOG_START, 6, op_log_start },
	{ OP_LOG_STOP, 4, op_log_stop },
	{ OP_LOG_REPORT, 8, op_log_report },
	{ OP_FD_READ, 12, op_fd_read },
	{ OP_FD_WRITE, 12, op_fd_write },
	{ OP_FD_INFO, 5, op_fd_info },
	{ OP_FD_PREAD, 2, op_fd_pread },
	{ OP_FD_WRONGWAY, 2, op_fd_wrongway },
	{ OP_FD_CLOSE, 6, op_fd_close },
	{ OP_RESET, 4, op_reset },
	{ OP_REOPEN, 2, op_reopen },
};
#define NWEIGHTS (sizeof(weights) / sizeof(weights[0]))

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	unsigned int total = 0;

	w->hb.tid = (pid_t)syscall(SYS_gettid);
	for (unsigned int i = 0; i < NWEIGHTS; i++)
		total += weights[i].w;
	if (w->idx == 0 && getenv("STRESS_WD_SELFTEST")) {
		w->hb.limit_ms = WD_OP_MS;
		hb_begin(&w->hb, OP_GET_STATE);
		for (uint64_t end = now_ms() + WD_OP_MS + 3000; now_ms() < end;)
			usleep(100000);
		hb_end(&w->hb);
	}
	while (!atomic_load(&g.stop) && !atomic_load(&g.fatal)) {
		unsigned int pick = rnd_below(&w->rng, total), i = 0;
		const struct op_weight *o;

		while (pick >= weights[i].w)
			pick -= weights[i++].w;
		o = &weights[i];
		if ((o->op == OP_RESET || o->op == OP_REOPEN) && calm_now())
			o = &weights[5];	/* log_report instead */
		if (o->op == OP_RESET && !rate_ok(&g.last_reset_ms, RESET_EVERY_MS))
			o = &weights[1];	/* get_state instead */
		if (o->op == OP_REOPEN && !rate_ok(&g.last_reopen_ms, REOPEN_EVERY_MS))
			o = &weights[1];
		w->hb.limit_ms = o->op == OP_REOPEN ? WD_REOPEN_MS : WD_OP_MS;
		hb_begin(&w->hb, o->op);
		o->fn(w);
		hb_end(&w->hb);
		{
			uint64_t took = now_ms() - atomic_load(&w->hb.since_ms);
			uint64_t prev = atomic_load(&g.max_ms[o->op]);

			while (took > prev &&
			       !atomic_compare_exchange_weak(&g.max_ms[o->op], &prev, took))
				;
		}
		usleep(rnd_below(&w->rng, 3000));
	}
	return NULL;
}

/* ---- traffic -------------------------------------------------------------- */

/* The VF from scratch on the same DMA memory (nothing unmapped, ever). */
static int drv_reinit(struct igbvf *vf)
{
	int ret = vfio_enable_bus_master(vf->dev);

	if (ret)
		return ret;
	ret = igbvf_reset(vf);
	if (ret)
		return ret;
	ret = igbvf_rings_setup(vf);
	if (ret)
		return ret;
	igbvf_wait_link(vf, 1000);
	return 0;
}

static uint32_t vf_received(const struct mig_traffic *t)
{
	uint32_t n = 0, sent = atomic_load((_Atomic uint32_t *)&t->p_sent);

	for (uint32_t s = 0; s < sent && s < t->max; s++)
		n += !!t->vf_got[s];
	return n;
}

static uint32_t peer_received(const struct mig_traffic *t)
{
	uint32_t n = 0;

	for (uint32_t s = 0; s < t->v_sent && s < t->max; s++)
		n += !!t->peer_got[s];
	return n;
}

static void *traffic_fn(void *arg)
{
	struct hb *hb = &g.traffic_hb;
	uint64_t next_try = 0, last_tx = now_ms(), last_rx = now_ms();
	uint64_t inited_cycle = ~0ull, counted_cycle = ~0ull;
	uint32_t tx_seen = g.t.v_sent, rx_seen = 0, rx0 = 0, tx0 = 0;
	bool rx_credited = false, tx_credited = false;

	(void)arg;
	hb->tid = (pid_t)syscall(SYS_gettid);
	hb->limit_ms = WD_TRAFFIC_MS;
	while (!atomic_load(&g.stop) && !atomic_load(&g.fatal)) {
		uint64_t now = now_ms(), cycle = cycle_now();
		bool calm = calm_now();

		if (pthread_rwlock_rdlock(&g.gate))
			break;
		/* Once per calm window: the VF from scratch (a reset, a restored
		 * stream or a close may have left its rings anywhere). */
		if (calm && cycle != inited_cycle)
			atomic_store(&g.drv_down, true);
		if (calm && cycle != counted_cycle) {
			if (getenv("STRESS_VERBOSE") && counted_cycle != ~0ull) {
				uint32_t st = ~0u;

				raw_get_state(g.dev.device_fd, &st);
				say("calm window %llu: inited %d, rx +%u, tx +%u; now %s",
				    (unsigned long long)counted_cycle, inited_cycle == counted_cycle,
				    vf_received(&g.t) - rx0, peer_received(&g.t) - tx0,
				    vfio_mig_state_name(st));
			}
			counted_cycle = cycle;
			g.calm_windows++;
			rx0 = vf_received(&g.t);
			tx0 = peer_received(&g.t);
			rx_credited = tx_credited = false;
		}
		if (atomic_load(&g.drv_down)) {
			uint32_t st = ~0u;


			/* The PF only answers the mailbox of a running VF. */
			if (now >= next_try && !raw_get_state(g.dev.device_fd, &st) &&
			    st == VFIO_DEVICE_STATE_RUNNING) {
				int ret;

				hb_begin(hb, OP_TRAFFIC_INIT);
				ret = drv_reinit(&g.vf);
				hb_end(hb);
				if (getenv("STRESS_VERBOSE"))
					say("reinit at %llu ms (cycle %llu, calm %d): %d in %llu ms",
					    (unsigned long long)(now - g.t0), (unsigned long long)cycle,
					    calm, ret,
					    (unsigned long long)(now_ms() - now));
				atomic_fetch_add(&g.done[OP_TRAFFIC_INIT], 1);
				if (!ret) {
					atomic_fetch_add(&g.ok[OP_TRAFFIC_INIT], 1);
					atomic_store(&g.drv_down, false);
					if (calm)
						inited_cycle = cycle;
					last_tx = last_rx = now_ms();
				} else {
					atomic_fetch_add(&g.traffic_inits_failed, 1);
					next_try = now_ms() + 50;
				}
			}
		} else {
			int ret;

			hb_begin(hb, OP_TRAFFIC_PUMP);
			ret = mig_traffic_pump(&g.t, 40);
			hb_end(hb);
			atomic_fetch_add(&g.done[OP_TRAFFIC_PUMP], 1);
			if (ret) {
				say("traffic: %s", g.t.err);
				atomic_store(&g.drv_down, true);
			} else {
				uint32_t rx = vf_received(&g.t);

				atomic_fetch_add(&g.ok[OP_TRAFFIC_PUMP], 1);
				now = now_ms();
				if (g.t.v_sent != tx_seen) {
					tx_seen = g.t.v_sent;
					last_tx = now;
				}
				if (rx != rx_seen) {
					rx_seen = rx;
					last_rx = now;
				}
				if (calm && !rx_credited && rx > rx0) {
					rx_credited = true;
					g.calm_rx++;
				}
				if (calm && !tx_credited && peer_received(&g.t) > tx0) {
					tx_credited = true;
					g.calm_tx++;
				}
				/* A reset, a restored stream or a close stalled the rings. */
				if (now - last_tx > 1000 || now - last_rx > 2000) {
					atomic_fetch_add(&g.traffic_stalls, 1);
					atomic_store(&g.drv_down, true);
				}
			}
		}
		pthread_rwlock_unlock(&g.gate);
		usleep(1000);
	}
	return NULL;
}

/* ---- watchdog ------------------------------------------------------------- */

static void dump_task(pid_t tid)
{
	char path[64], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = 0;
		fprintf(stderr, "# kernel stack of tid %d:\n%s", tid, buf);
	}
}

static void wd_check(struct hb *h)
{
	int op = atomic_load(&h->op);
	uint64_t since = atomic_load(&h->since_ms), now = now_ms();

	if (op == OP_IDLE || h->reported || now - since <= h->limit_ms)
		return;
	h->reported = true;
	atomic_store(&g.hung, true);
	say("WATCHDOG: %s (tid %d) stuck in %s for %llu ms (bound %llu ms)", h->name, h->tid,
	    op >= 0 && op < NOPS ? op_names[op] : "?", (unsigned long long)(now - since),
	    (unsigned long long)h->limit_ms);
	dump_task(h->tid);
	/* Blocked tasks to the kernel log: fails the run on its own (run-vm.sh). */
	{
		int fd = open("/proc/sysrq-trigger", O_WRONLY);

		if (fd >= 0) {
			if (write(fd, "w", 1) < 0)
				say("sysrq-trigger: %s", strerror(errno));
			close(fd);
		}
	}
}

static void *wd_fn(void *arg)
{
	(void)arg;
	while (!atomic_load(&g.stop_wd)) {
		for (int i = 0; i < NWORKERS; i++)
			if (g.w[i].started)
				wd_check(&g.w[i].hb);
		if (g.traffic_started)
			wd_check(&g.traffic_hb);
		usleep(200000);
	}
	return NULL;
}

/*
 * Stops workers and traffic and joins them, all within ms (one deadline, as
 * long as the longest watchdog bound); then the watchdog. false: a thread
 * is stuck (it stays unjoined, and so does the watchdog).
 */
static bool stop_threads(uint64_t ms)
{
	struct timespec ts;
	bool ok = true;

	atomic_store(&g.stop, true);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	for (int i = 0; i < NWORKERS; i++) {
		if (!g.w[i].started)
			continue;
		if (pthread_timedjoin_np(g.w[i].th, NULL, &ts))
			ok = false;
		else
			g.w[i].started = false;
	}
	if (g.traffic_started) {
		if (pthread_timedjoin_np(g.traffic_th, NULL, &ts))
			ok = false;
		else
			g.traffic_started = false;
	}
	if (ok && g.wd_started) {
		atomic_store(&g.stop_wd, true);
		pthread_join(g.wd_th, NULL);
		g.wd_started = false;
	}
	return ok;
}

/* ---- fixture ------------------------------------------------------------- */

static unsigned int stress_secs(void)
{
	const char *s = getenv("STRESS_SECS");
	long v = s && *s ? strtol(s, NULL, 10) : 30;

	return v > 0 && v < 3600 ? (unsigned int)v : 30;
}

FIXTURE(stress) {
	bool opened;
	bool drv_up;
	struct mig_peer peer;
};

FIXTURE_SETUP(stress)
{
	const char *drv = getenv("MIG_DRIVER"), *bdf = getenv("VF_BDF");

	self->peer.fd = -1;
	if (!drv || strcmp(drv, MIG_DRIVER_NAME))
		SKIP(return, "MIG_DRIVER=%s: the stress targets %s only", drv ?: "",
		     MIG_DRIVER_NAME);
	if (!bdf || !*bdf)
		SKIP(return, "VF_BDF not set: no VF to test");
	memset(&g, 0, sizeof(g));
	g.bdf = bdf;
	g.devfd = g.iommufd = -1;
	for (int i = 0; i < POOL; i++)
		g.pool[i].fd = -1;
	pthread_mutex_init(&g.devlock, NULL);
	pthread_mutex_init(&g.poollock, NULL);
	pthread_mutex_init(&g.printlock, NULL);
	{
		pthread_rwlockattr_t a;

		pthread_rwlockattr_init(&a);
		/* The traffic thread re-takes the read side all the time. */
		pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&g.gate, &a);
		pthread_rwlockattr_destroy(&a);
	}
	ASSERT_EQ(0, vfio_dev_open(&g.dev, bdf, VFIO_MODE_CDEV_IOMMUFD))
		TH_LOG("open %s: %s", bdf, vfio_errmsg());
	self->opened = true;
	/* The iommufd (and the IOAS holding the driver's memory) outlive reopens. */
	g.iommufd = g.dev.iommufd;
	g.ioas_id = g.dev.ioas_id;
	g.dev.iommufd_borrowed = true;
	g.devfd = g.dev.device_fd;
}

FIXTURE_TEARDOWN(stress)
{
	/* A hung thread still holds the device: leave everything as it is. */
	if (atomic_load(&g.hung) || !stop_threads(WD_TRAFFIC_MS + 5000))
		return;
	if (g.t_on)
		mig_traffic_free(&g.t);
	g.t_on = false;
	mig_peer_close(&self->peer);
	for (int i = 0; i < POOL; i++) {
		if (g.pool[i].fd >= 0)
			close(g.pool[i].fd);
		g.pool[i].fd = -1;
	}
	if (self->drv_up && g.dev.device_fd >= 0)
		igbvf_fini(&g.vf);
	self->drv_up = false;
	if (self->opened) {
		struct vfio_dev d = { .device_fd = g.dev.device_fd };

		if (d.device_fd >= 0) {
			dlog_stop(&d);
			vfio_dev_close(&g.dev);
		}
	}
	self->opened = false;
	if (g.iommufd >= 0)
		close(g.iommufd);
	g.iommufd = -1;
	free(g.stream);
	g.stream = NULL;
}

/* Whole stream through RUNNING -> STOP_COPY -> RUNNING; its length. */
static size_t save_once(struct __test_metadata *_metadata, struct vfio_dev *d, uint8_t *out)
{
	struct mig_rec recs[MIG_MAX_RECS];
	char why[128];
	size_t len;
	int fd = -1, err;

	ASSERT_EQ(0, vfio_mig_set_state(d, VFIO_DEVICE_STATE_STOP_COPY, &fd))
		TH_LOG("%s", vfio_errmsg());
	ASSERT_LE(0, fd);
	len = mig_read_all(fd, out, STREAM_BUF, 4096, &err);
	close(fd);
	ASSERT_EQ(0, err) TH_LOG("STOP_COPY read: %s after %zu bytes", strerror(err), len);
	ASSERT_LT(0, mig_stream_parse(out, len, recs, MIG_MAX_RECS, why, sizeof(why)))
		TH_LOG("stream of %zu bytes: %s", len, why);
	ASSERT_EQ(0, vfio_mig_set_state(d, VFIO_DEVICE_STATE_RUNNING, NULL))
		TH_LOG("%s", vfio_errmsg());
	return len;
}

static void print_counts(uint64_t ms)
{
	unsigned long total = 0;

	for (int op = 0; op < NOPS; op++)
		total += atomic_load(&g.done[op]);
	ksft_print_msg("hammered %s for %.1f s with %d threads + traffic: %lu operations\n",
		       g.bdf, ms / 1000.0, NWORKERS, total);
	for (int op = 0; op < NOPS; op++) {
		char line[512];
		int n;

		n = snprintf(line, sizeof(line), "  %-20s %7lu done, %7lu ok", op_names[op],
			     atomic_load(&g.done[op]), atomic_load(&g.ok[op]));
		if (atomic_load(&g.max_ms[op]))
			n += snprintf(line + n, sizeof(line) - n, " (max %llu ms)",
				      (unsigned long long)atomic_load(&g.max_ms[op]));
		for (int e = 1; e < ERRNO_MAX && n < (int)sizeof(line) - 40; e++) {
			unsigned long c = atomic_load(&g.err[op][e]);

			if (c)
				n += snprintf(line + n, sizeof(line) - n, ", %lu %s", c,
					      strerrorname_np(e) ?: "?");
		}
		ksft_print_msg("%s\n", line);
	}
	ksft_print_msg("data fds made %lu; ops skipped while the device was closed %lu; "
		       "BINDs refused while the old file was held %lu\n",
		       atomic_load(&g.fds_made), atomic_load(&g.skipped_closed),
		       atomic_load(&g.binds_refused));
}

TEST_F_TIMEOUT(stress, hammer, 300)
{
	const char *peer_if = getenv("PEER_IF");
	unsigned int secs = stress_secs();
	struct mig_counts k;
	uint64_t flags = 0, t0, t1, t_stop, size = 0;
	uint32_t st = ~0u;
	char err[256];
	bool hung = false;
	int ret;

	ASSERT_EQ(0, vfio_mig_flags(&g.dev, &flags)) TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(1, dlog_probe(&g.dev)) TH_LOG("DMA logging not offered");
	if (!peer_if || !*peer_if)
		SKIP(return, "PEER_IF not set: no traffic peer");

	/* The driver, a baseline DMA check, and the stream restored later on. */
	ret = igbvf_init(&g.vf, &g.dev, IOVA_DRV);
	self->drv_up = true;
	ASSERT_EQ(0, ret) TH_LOG("igbvf_init: %s", g.vf.err);
	g.drv_mem = (g.vf.mem.size + DPAGE - 1) / DPAGE * DPAGE;
	ASSERT_EQ(0, mig_peer_open(peer_if, &self->peer));
	ASSERT_EQ(0, mig_exchange(&g.vf, &self->peer, 4, err, sizeof(err))) TH_LOG("%s", err);
	g.stream = calloc(1, STREAM_BUF);
	ASSERT_NE(NULL, g.stream);
	g.stream_len = save_once(_metadata, &g.dev, g.stream);
	ASSERT_EQ(0, vfio_mig_data_size(&g.dev, &size)) TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(g.stream_len, size);
	mig_peer_close(&self->peer);

	g.t.vf = &g.vf;
	g.t.peer_if = peer_if;
	memcpy(g.t.vf_dst, g.vf.mac, 6);
	g.t.frame_len = 128;
	g.t.peer_period_us = 4000;
	g.t.vf_period_us = 4000;
	g.t.max = (secs + 30) * 300;
	ret = mig_traffic_start(&g.t);
	g.t_on = true;
	ASSERT_EQ(0, ret) TH_LOG("%s", g.t.err);

	/* Threads: watchdog, traffic, workers. */
	g.traffic_hb.name = "traffic";
	g.traffic_hb.op = OP_IDLE;
	ASSERT_EQ(0, pthread_create(&g.wd_th, NULL, wd_fn, NULL));
	g.wd_started = true;
	t0 = g.t0 = now_ms();
	ASSERT_EQ(0, pthread_create(&g.traffic_th, NULL, traffic_fn, NULL));
	g.traffic_started = true;
	for (int i = 0; i < NWORKERS; i++) {
		static const char *const names[NWORKERS] = { "worker0", "worker1", "worker2",
							     "worker3" };
		struct worker *w = &g.w[i];

		w->idx = i;
		w->rng = (uint32_t)now_ns() * 2654435761u + (uint32_t)i * 40503u + 1;
		w->hb.name = names[i];
		w->hb.op = OP_IDLE;
		ASSERT_EQ(0, pthread_create(&w->th, NULL, worker_fn, w));
		w->started = true;
	}

	while (now_ms() - t0 < secs * 1000ull && !atomic_load(&g.hung) &&
	       !atomic_load(&g.fatal))
		usleep(100000);
	t_stop = now_ms();
	hung = !stop_threads(WD_TRAFFIC_MS + 5000);
	t1 = now_ms();
	if (hung || atomic_load(&g.hung)) {
		/* Let the watchdog report what is stuck, then fail without teardown. */
		usleep(1000000);
		atomic_store(&g.hung, true);
		print_counts(t_stop - t0);
		ASSERT_FALSE(true) TH_LOG("a thread is stuck (deadlock or hang): see the watchdog "
					  "report and the kernel's blocked tasks above");
	}
	ret = mig_traffic_stop(&g.t, 300);

	print_counts(t_stop - t0);
	ksft_print_msg("all threads stopped %llu ms after the stop request\n",
		       (unsigned long long)(t1 - t_stop));
	mig_traffic_count(&g.t, 0, 0, 0, &k);
	ksft_print_msg("traffic during the hammer: peer -> VF %u of %u received, VF -> peer "
		       "%u of %u received (%u stray, %u bad at the VF; %u stray, %u bad at the "
		       "peer); %lu ring stalls, %lu VF re-inits ok, %lu failed\n",
		       k.vf_recv, k.p_sent, k.peer_recv, k.v_sent, g.t.vf_stray, g.t.vf_bad,
		       g.t.peer_stray, g.t.peer_bad, atomic_load(&g.traffic_stalls),
		       atomic_load(&g.ok[OP_TRAFFIC_INIT]),
		       atomic_load(&g.traffic_inits_failed));
	ksft_print_msg("calm windows: %lu, with frames peer -> VF in %lu, VF -> peer in %lu\n",
		       g.calm_windows, g.calm_rx, g.calm_tx);

	EXPECT_FALSE(atomic_load(&g.fatal)) TH_LOG("%s", g.fatal_msg);
	EXPECT_EQ(0, atomic_load(&g.unexpected)) TH_LOG("operations failed with an errno "
						       "their uAPI does not document (above)");
	EXPECT_EQ(0, atomic_load(&g.bad_values)) TH_LOG("operations returned wrong values (above)");
	EXPECT_LT(0, atomic_load(&g.ok[OP_SET_STATE]));
	EXPECT_LT(0, atomic_load(&g.done[OP_RESET]));
	EXPECT_LT(0, atomic_load(&g.ok[OP_REOPEN]));
	EXPECT_LT(0, atomic_load(&g.done[OP_FD_READ]));
	EXPECT_LT(0, atomic_load(&g.done[OP_FD_WRITE]));
	EXPECT_LT(0, atomic_load(&g.ok[OP_LOG_START]));
	EXPECT_LT(0, k.vf_recv) TH_LOG("no frame reached the VF during the hammer");
	EXPECT_LT(0, k.peer_recv) TH_LOG("no frame from the VF reached the peer during the hammer");
	/* The VF keeps working under the hammer: most calm windows carry frames. */
	EXPECT_LE(g.calm_windows / 3, g.calm_rx) TH_LOG("peer -> VF frames in too few calm windows");
	EXPECT_LE(g.calm_windows / 3, g.calm_tx) TH_LOG("VF -> peer frames in too few calm windows");
	EXPECT_EQ(0, g.t.p_err) TH_LOG("peer sendto: %s", strerror(g.t.p_err));

	/* ---- the device is usable again ---- */
	if (g.dev.device_fd < 0) {
		struct vfio_dev share = {
			.mode = VFIO_MODE_CDEV_IOMMUFD, .iommufd = g.iommufd, .ioas_id = g.ioas_id,
		};

		ASSERT_EQ(0, vfio_dev_open_shared(&g.dev, g.bdf, &share)) TH_LOG("%s", vfio_errmsg());
		g.devfd = g.dev.device_fd;
	}
	ASSERT_EQ(0, dlog_stop(&g.dev));
	for (int tries = 0;; tries++) {
		ret = vfio_reset(&g.dev);
		if (!ret || ret != -EAGAIN || tries == 50)
			break;
		usleep(20000);
	}
	ASSERT_EQ(0, ret) TH_LOG("final VFIO_DEVICE_RESET: %s", vfio_errmsg());
	ASSERT_EQ(0, vfio_mig_get_state(&g.dev, &st)) TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, st) TH_LOG("after the final reset: %s",
							vfio_mig_state_name(st));
	/* Every data fd predates that reset: all dead. */
	for (int i = 0; i < POOL; i++) {
		struct pool_ent *e = &g.pool[i];
		struct vfio_precopy_info info = { .argsz = sizeof(info) };
		uint8_t b[16] = {};
		ssize_t n;

		if (e->fd < 0)
			continue;
		n = e->resume ? write(e->fd, b, sizeof(b)) : read(e->fd, b, sizeof(b));
		EXPECT_EQ(-1, n) TH_LOG("%s fd alive after the final reset",
					e->resume ? "resuming" : "saving");
		EXPECT_EQ(ENODEV, errno) TH_LOG("%s fd after the final reset: %s",
						e->resume ? "resuming" : "saving", strerror(errno));
		/* The uAPI: EINVAL whenever the device is not in PRE_COPY(_P2P). */
		EXPECT_EQ(-1, ioctl(e->fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
		EXPECT_EQ(EINVAL, errno);
		close(e->fd);
		e->fd = -1;
	}
	mig_traffic_free(&g.t);
	g.t_on = false;
	ASSERT_EQ(0, drv_reinit(&g.vf)) TH_LOG("VF init after the hammer: %s", g.vf.err);
	ASSERT_TRUE(igbvf_wait_link(&g.vf, 10000)) TH_LOG("VF link down after the hammer");
	ASSERT_EQ(0, mig_peer_open(peer_if, &self->peer));
	ASSERT_EQ(0, mig_exchange(&g.vf, &self->peer, 8, err, sizeof(err)))
		TH_LOG("DMA check after the hammer: %s", err);
	/* Migration still works: a whole save that parses, then RUNNING with traffic. */
	EXPECT_EQ(g.stream_len, save_once(_metadata, &g.dev, g.stream));
	ASSERT_EQ(0, mig_exchange(&g.vf, &self->peer, 8, err, sizeof(err)))
		TH_LOG("DMA check after a save: %s", err);
	(void)ret;
}

int main(int argc, char **argv)
{
	/* The run's length is an environment setting: the harness bound follows it. */
	_stress_hammer_object->timeout = (int)stress_secs() + 240;
	setvbuf(stdout, NULL, _IOLBF, 0);
	return test_harness_run(argc, argv);
}
