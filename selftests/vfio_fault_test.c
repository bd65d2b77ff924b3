// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection on a VF bound to vfio_ixgbevf_mig. Each case must end in a
 * clean errno for userspace and a device that works again (or that was
 * removed cleanly and re-created):
 *
 *  sriov_remove_*   `echo 0 > sriov_numvfs` on the PF while the VF is open in
 *                   PRE_COPY (or PRE_COPY_P2P: queues stopped, PF mailbox
 *                   held) with a data fd open and DMA logging on. Removal
 *                   waits for the user: it must still be pending after a
 *                   while, complete within a bound once the device is closed
 *                   (from another thread than the writer), and the data fd
 *                   that outlives the device must fail with ENODEV. The VFs
 *                   are then re-created as rig/init.sh does (same count, all
 *                   of $VF_BDFS bound to $MIG_DRIVER, PF netdev up) and used.
 *  unbind_while_open  unbind of the driver with the device open in STOP_COPY
 *                   (quiesced) and logging on: the core relays a device
 *                   request (eventfd), unbind completes once closed, rebind.
 *  reset_during_*   VFIO_DEVICE_RESET (FLR) after part of a STOP_COPY stream
 *                   was read / part of a stream was written to RESUMING, both
 *                   in one thread and racing a reader/writer thread: the fd
 *                   fails with ENODEV from then on (reset epoch), the device
 *                   is RUNNING, and a complete save / resume works afterwards.
 *  failslab_*       (debug kernel only: /sys/kernel/debug/failslab, else SKIP)
 *                   save (-> STOP_COPY, -> PRE_COPY, PRE_COPY_P2P ->
 *                   STOP_COPY, read), resume (-> RESUMING, write, RESUMING ->
 *                   STOP) and DMA logging (START, REPORT), each with its n-th
 *                   slab allocation failing, n = 1, 2, ... until the call
 *                   allocates less than n times. Injection is per thread
 *                   through /proc/thread-self/fail-nth (the fault-injection
 *                   framework's exact "fail the n-th call" knob, which
 *                   failslab honours) with failslab's ignore-gfp-wait off and
 *                   verbose 0 (FAILSLAB_VERBOSE=2: a stack per injected
 *                   failure, for diagnosis). Every injected failure must be
 *                   ENOMEM or be absorbed (the call succeeds: kmemleak's and
 *                   debugobjects' own allocations have fallbacks), leave a
 *                   consistent state, and the device must work afterwards;
 *                   kmemleak (rig/init.sh) catches leaks.
 *
 * Environment (rig/init.sh): VF_BDF, VF_BDFS, PF_BDF, PF_IF, PEER_IF,
 * MIG_DRIVER (SKIP unless vfio_ixgbevf_mig), RIG_NUMVFS (optional).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dirty_util.h"
#include "igbvf_drv.h"
#include "kselftest_harness.h"
#include "mig_util.h"
#include "vfio_util.h"

#define MIG_DRIVER_NAME	"vfio_ixgbevf_mig"
#define IOVA_DRV	0x10000000ull
#define IOVA_LOG2	0x40000000ull
#define STREAM_BUF	(2 * MIG_MAX_STREAM)
#define FAILSLAB	"/sys/kernel/debug/failslab"
#define MAX_VFS		8

#define S_ERROR		VFIO_DEVICE_STATE_ERROR
#define S_STOP		VFIO_DEVICE_STATE_STOP
#define S_RUNNING	VFIO_DEVICE_STATE_RUNNING
#define S_STOP_COPY	VFIO_DEVICE_STATE_STOP_COPY
#define S_RESUMING	VFIO_DEVICE_STATE_RESUMING
#define S_RUNNING_P2P	VFIO_DEVICE_STATE_RUNNING_P2P
#define S_PRE_COPY	VFIO_DEVICE_STATE_PRE_COPY
#define S_PRE_COPY_P2P	VFIO_DEVICE_STATE_PRE_COPY_P2P

static const char *sn(uint32_t s)
{
	return vfio_mig_state_name(s);
}

/* ---- sysfs ---------------------------------------------------------------- */

static int sysfs_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	return (size_t)n == len ? 0 : -EIO;
}

static int sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

static long sysfs_long(const char *path)
{
	char b[64];

	if (sysfs_read(path, b, sizeof(b)))
		return -1;
	return strtol(b, NULL, 0);
}

static bool pci_exists(const char *bdf)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s", bdf);
	return access(p, F_OK) == 0;
}

/* Driver bound to bdf into buf ("" if none). */
static void driver_of(const char *bdf, char *buf, size_t len)
{
	if (pci_driver_name(bdf, buf, len))
		buf[0] = 0;
}

/* A sysfs write that blocks until the device is released: from a thread. */
struct bwrite {
	char path[PATH_MAX];
	char val[64];
	pthread_t th;
	bool started;
	_Atomic bool done;
	int ret;
	uint64_t t_start, t_end;
};

static void *bwrite_fn(void *arg)
{
	struct bwrite *b = arg;

	b->t_start = now_ms();
	b->ret = sysfs_write(b->path, b->val);
	b->t_end = now_ms();
	atomic_store(&b->done, true);
	return NULL;
}

static int bwrite_start(struct bwrite *b, const char *path, const char *val)
{
	snprintf(b->path, sizeof(b->path), "%s", path);
	snprintf(b->val, sizeof(b->val), "%s", val);
	atomic_store(&b->done, false);
	b->ret = -EINPROGRESS;
	if (pthread_create(&b->th, NULL, bwrite_fn, b))
		return -EAGAIN;
	b->started = true;
	return 0;
}

/* Waits up to ms for the write to return; joins it if it did. */
static bool bwrite_wait(struct bwrite *b, uint64_t ms)
{
	uint64_t end = now_ms() + ms;

	while (!atomic_load(&b->done) && now_ms() < end)
		usleep(20000);
	if (!atomic_load(&b->done))
		return false;
	pthread_join(b->th, NULL);
	b->started = false;
	return true;
}

/* ---- the rig's SR-IOV setup (rig/init.sh) --------------------------------- */

struct rig {
	const char *pf, *pf_if, *drv;
	char vfs[MAX_VFS][32];
	int nvfs;
	int numvfs;
};

static void rig_env(struct rig *r)
{
	const char *list = getenv("VF_BDFS"), *n = getenv("RIG_NUMVFS");
	char tmp[MAX_VFS * 33], *tok, *save = NULL;

	memset(r, 0, sizeof(*r));
	r->pf = getenv("PF_BDF");
	r->pf_if = getenv("PF_IF");
	r->drv = getenv("MIG_DRIVER");
	if (list && *list) {
		snprintf(tmp, sizeof(tmp), "%s", list);
		for (tok = strtok_r(tmp, " \t", &save); tok && r->nvfs < MAX_VFS;
		     tok = strtok_r(NULL, " \t", &save))
			snprintf(r->vfs[r->nvfs++], sizeof(r->vfs[0]), "%s", tok);
	} else {
		const char *a = getenv("VF_BDF"), *b = getenv("VF_BDF2");

		if (a && *a)
			snprintf(r->vfs[r->nvfs++], sizeof(r->vfs[0]), "%s", a);
		if (b && *b)
			snprintf(r->vfs[r->nvfs++], sizeof(r->vfs[0]), "%s", b);
	}
	r->numvfs = n && *n ? atoi(n) : r->nvfs;
}

/* bind_vf() of rig/init.sh: driver_override + drivers_probe. */
static int bind_vf(const char *bdf, const char *drv, char *why, size_t wl)
{
	char p[PATH_MAX], cur[64];
	int ret;

	driver_of(bdf, cur, sizeof(cur));
	if (!strcmp(cur, drv))
		return 0;
	if (*cur) {
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		ret = sysfs_write(p, bdf);
		if (ret) {
			snprintf(why, wl, "unbind %s from %s: %s", bdf, cur, strerror(-ret));
			return ret;
		}
	}
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver_override", bdf);
	ret = sysfs_write(p, drv);
	if (ret) {
		snprintf(why, wl, "%s driver_override: %s", bdf, strerror(-ret));
		return ret;
	}
	/* drivers_probe fails when no driver wants it: the check below says so. */
	sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	driver_of(bdf, cur, sizeof(cur));
	if (strcmp(cur, drv)) {
		snprintf(why, wl, "%s bound to '%s' after drivers_probe, not %s", bdf, cur, drv);
		return -ENODEV;
	}
	return 0;
}

static int if_up(const char *ifname)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		ret = -errno;
	else if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			ret = -errno;
	}
	close(fd);
	return ret;
}

/*
 * Puts SR-IOV back as rig/init.sh left it: numvfs VFs on the PF (their BDFs
 * the ones in $VF_BDFS), all bound to $MIG_DRIVER, the PF netdev up.
 * Idempotent; cheap when nothing changed.
 */
static int rig_restore(const struct rig *r, char *why, size_t wl)
{
	char p[PATH_MAX];
	long cur;
	int ret;
	uint64_t end;

	snprintf(why, wl, "ok");
	if (!r->pf || !*r->pf)
		return 0;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/sriov_numvfs", r->pf);
	cur = sysfs_long(p);
	if (cur != r->numvfs) {
		char v[16];

		if (cur > 0) {
			ret = sysfs_write(p, "0");
			if (ret) {
				snprintf(why, wl, "sriov_numvfs=0: %s", strerror(-ret));
				return ret;
			}
		}
		snprintf(v, sizeof(v), "%d", r->numvfs);
		ret = sysfs_write(p, v);
		if (ret) {
			snprintf(why, wl, "sriov_numvfs=%d: %s", r->numvfs, strerror(-ret));
			return ret;
		}
	}
	end = now_ms() + 15000;
	for (int i = 0; i < r->nvfs; i++) {
		char link[PATH_MAX], target[PATH_MAX];
		ssize_t n;

		while (!pci_exists(r->vfs[i]) && now_ms() < end)
			usleep(50000);
		if (!pci_exists(r->vfs[i])) {
			snprintf(why, wl, "VF %s did not come back", r->vfs[i]);
			return -ENODEV;
		}
		snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/virtfn%d", r->pf, i);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			if (!strstr(target, r->vfs[i])) {
				snprintf(why, wl, "virtfn%d is %.64s, $VF_BDFS says %s", i,
					 strrchr(target, '/') ? strrchr(target, '/') + 1 : target,
					 r->vfs[i]);
				return -EXDEV;
			}
		}
	}
	for (int i = 0; i < r->nvfs; i++) {
		ret = bind_vf(r->vfs[i], r->drv, why, wl);
		if (ret)
			return ret;
	}
	if (r->pf_if && *r->pf_if) {
		ret = if_up(r->pf_if);
		if (ret) {
			snprintf(why, wl, "PF netdev %s up: %s", r->pf_if, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* ---- device helpers ----------------------------------------------------- */

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

/* SET MIG_DEVICE_STATE with nothing but the ioctl (failslab: one syscall). */
static int raw_set_state(int devfd, uint32_t st, int *data_fd)
{
	struct vfio_device_feature_mig_state m = { .device_state = st, .data_fd = -1 };
	int ret = feature(devfd, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			  &m, sizeof(m));

	*data_fd = ret ? -1 : m.data_fd;
	return ret;
}

static int get_state(struct vfio_dev *d)
{
	uint32_t st;

	return vfio_mig_get_state(d, &st) ? -1 : (int)st;
}

/* VFIO_DEVICE_RESET, retried while the PCI core reports its lock busy. */
static int reset_dev(struct vfio_dev *d)
{
	int ret;

	for (int tries = 0;; tries++) {
		ret = vfio_reset(d);
		if (ret != -EAGAIN || tries == 50)
			return ret;
		usleep(20000);
	}
}

FIXTURE(fault) {
	struct rig rig;
	struct vfio_dev dev;
	bool opened;
	struct igbvf vf;
	bool vf_up;
	struct mig_peer peer;
	int data_fd, data_fd2;
	bool restore;		/* SR-IOV or bindings changed: put them back */
	struct bwrite bw;	/* here, not on a test's stack: it may outlive an ASSERT */
	uint8_t *stream, *buf;
	size_t stream_len;
	uint64_t drv_mem;
	/* failslab */
	bool fs_set;
	char fs_ignore[16], fs_verbose[16], fs_task[16];
	int nth_fd;
	uint64_t *bm;
};

FIXTURE_SETUP(fault)
{
	const char *drv = getenv("MIG_DRIVER"), *bdf = getenv("VF_BDF");
	uint64_t flags = 0;

	self->peer.fd = -1;
	self->data_fd = self->data_fd2 = self->nth_fd = -1;
	if (!drv || strcmp(drv, MIG_DRIVER_NAME))
		SKIP(return, "MIG_DRIVER=%s: fault injection targets %s only", drv ?: "",
		     MIG_DRIVER_NAME);
	if (!bdf || !*bdf)
		SKIP(return, "VF_BDF not set: no VF to test");
	rig_env(&self->rig);
	{
		char cur[64], why[256];

		/* An earlier case that could not put SR-IOV back: try once more. */
		driver_of(bdf, cur, sizeof(cur));
		if (strcmp(cur, drv)) {
			ASSERT_EQ(0, rig_restore(&self->rig, why, sizeof(why)))
				TH_LOG("%s not bound to %s (%s), and re-creating failed: %s", bdf,
				       drv, cur, why);
		}
	}
	self->stream = calloc(1, STREAM_BUF);
	self->buf = calloc(1, STREAM_BUF);
	self->bm = calloc(1, 64 * 1024);
	ASSERT_TRUE(self->stream && self->buf && self->bm);
	ASSERT_EQ(0, vfio_dev_open(&self->dev, bdf, VFIO_MODE_CDEV_IOMMUFD))
		TH_LOG("open %s: %s", bdf, vfio_errmsg());
	self->opened = true;
	ASSERT_EQ(0, vfio_mig_flags(&self->dev, &flags)) TH_LOG("%s", vfio_errmsg());
}

static void failslab_restore(FIXTURE_DATA(fault) *self)
{
	if (self->nth_fd >= 0) {
		pwrite(self->nth_fd, "0", 1, 0);
		close(self->nth_fd);
		self->nth_fd = -1;
	}
	if (!self->fs_set)
		return;
	sysfs_write(FAILSLAB "/ignore-gfp-wait", self->fs_ignore);
	sysfs_write(FAILSLAB "/verbose", self->fs_verbose);
	sysfs_write(FAILSLAB "/task-filter", self->fs_task);
	self->fs_set = false;
}

FIXTURE_TEARDOWN(fault)
{
	char why[256];

	failslab_restore(self);
	if (self->data_fd >= 0)
		close(self->data_fd);
	if (self->data_fd2 >= 0)
		close(self->data_fd2);
	mig_peer_close(&self->peer);
	if (self->vf_up && self->opened)
		igbvf_fini(&self->vf);
	self->vf_up = false;
	if (self->opened) {
		dlog_stop(&self->dev);
		vfio_dev_close(&self->dev);
	}
	self->opened = false;
	/* The device is closed now: a pending removal/unbind can finish. */
	if (self->bw.started && !bwrite_wait(&self->bw, 60000))
		TH_LOG("%s still blocked after the device was closed", self->bw.path);
	if (self->restore) {
		int ret = rig_restore(&self->rig, why, sizeof(why));

		EXPECT_EQ(0, ret) TH_LOG("putting SR-IOV back for the next tests: %s", why);
	}
	free(self->stream);
	free(self->buf);
	free(self->bm);
}

static void reach(struct __test_metadata *_metadata, struct vfio_dev *d, uint32_t st,
		  int *fd)
{
	int tmp = -1, now;

	ASSERT_EQ(0, vfio_mig_set_state(d, st, fd ? fd : &tmp)) TH_LOG("%s", vfio_errmsg());
	if (!fd && tmp >= 0)
		close(tmp);
	now = get_state(d);
	ASSERT_EQ((int)st, now) TH_LOG("set %s, GET says %s", sn(st), now < 0 ? "?" : sn(now));
}

/* ---- usability checks ------------------------------------------------------ */

static void drv_up(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	int ret;

	if (self->vf_up)
		igbvf_fini(&self->vf);
	ret = igbvf_init(&self->vf, &self->dev, IOVA_DRV);
	self->vf_up = true;
	ASSERT_EQ(0, ret) TH_LOG("igbvf_init: %s", self->vf.err);
	self->drv_mem = (self->vf.mem.size + DPAGE - 1) / DPAGE * DPAGE;
}

/* Frames both ways through the fixture's VF, every byte checked. */
static void dma_check(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
		      const char *when)
{
	const char *peer_if = getenv("PEER_IF");
	char err[256];

	if (self->peer.fd < 0 && peer_if && *peer_if) {
		ASSERT_EQ(0, mig_peer_open(peer_if, &self->peer));
	}
	EXPECT_TRUE(igbvf_wait_link(&self->vf, 10000)) TH_LOG("%s: VF link down", when);
	ASSERT_EQ(0, mig_exchange(&self->vf, &self->peer, 8, err, sizeof(err)))
		TH_LOG("%s: %s", when, err);
}

/* After a reset: RUNNING, and the VF works from scratch. */
static void usable_here(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			const char *when)
{
	int st = get_state(&self->dev);

	ASSERT_EQ(S_RUNNING, st) TH_LOG("%s: state %s", when, st < 0 ? vfio_errmsg() : sn(st));
	drv_up(_metadata, self);
	dma_check(_metadata, self, when);
}

/* A fresh open of bdf: RUNNING, driver up, frames both ways; closed again. */
static void usable_fresh(struct __test_metadata *_metadata, const char *bdf)
{
	const char *peer_if = getenv("PEER_IF");
	struct mig_peer peer = { .fd = -1 };
	struct igbvf vf;
	struct vfio_dev d;
	char err[256] = "";
	uint32_t st = ~0u;
	int ret, xret = -1;
	bool link = false;

	ret = vfio_dev_open(&d, bdf, VFIO_MODE_CDEV_IOMMUFD);
	ASSERT_EQ(0, ret) TH_LOG("open %s: %s", bdf, vfio_errmsg());
	if (vfio_mig_get_state(&d, &st))
		st = ~0u;
	ret = igbvf_init(&vf, &d, IOVA_DRV);
	if (!ret) {
		link = igbvf_wait_link(&vf, 10000);
		if (peer_if && *peer_if && mig_peer_open(peer_if, &peer))
			peer.fd = -1;
		xret = mig_exchange(&vf, &peer, 8, err, sizeof(err));
	}
	mig_peer_close(&peer);
	igbvf_fini(&vf);
	vfio_dev_close(&d);
	EXPECT_EQ(S_RUNNING, st) TH_LOG("%s: a fresh open is in %s", bdf, sn(st));
	ASSERT_EQ(0, ret) TH_LOG("%s: igbvf_init: %s", bdf, vf.err);
	EXPECT_TRUE(link) TH_LOG("%s: link down", bdf);
	ASSERT_EQ(0, xret) TH_LOG("%s: %s", bdf, err);
}

/* RUNNING -> STOP_COPY -> whole stream (parsed) -> RUNNING; its length. */
static size_t save_once(struct __test_metadata *_metadata, struct vfio_dev *d, uint8_t *out)
{
	struct mig_rec recs[MIG_MAX_RECS];
	char why[128];
	size_t len;
	int fd = -1, err;

	ASSERT_EQ(0, vfio_mig_set_state(d, S_STOP_COPY, &fd)) TH_LOG("%s", vfio_errmsg());
	ASSERT_LE(0, fd);
	len = mig_read_all(fd, out, STREAM_BUF, 4096, &err);
	close(fd);
	ASSERT_EQ(0, err) TH_LOG("STOP_COPY read: %s after %zu bytes", strerror(err), len);
	ASSERT_LT(0, mig_stream_parse(out, len, recs, MIG_MAX_RECS, why, sizeof(why)))
		TH_LOG("stream of %zu bytes: %s", len, why);
	ASSERT_EQ(0, vfio_mig_set_state(d, S_RUNNING, NULL)) TH_LOG("%s", vfio_errmsg());
	return len;
}

static void log_on(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	struct dlog_range r[2] = { { IOVA_DRV, self->drv_mem }, { IOVA_LOG2, 1 << 20 } };
	uint64_t ps = DPAGE;

	ASSERT_EQ(0, dlog_start(&self->dev, &ps, r, 2));
}

static void expect_dead(struct __test_metadata *_metadata, int fd, bool resume,
			const char *what)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	uint8_t b[16] = {};
	ssize_t n;

	n = resume ? write(fd, b, sizeof(b)) : read(fd, b, sizeof(b));
	EXPECT_EQ(-1, n) TH_LOG("%s: %s returned %zd", what, resume ? "write" : "read", n);
	EXPECT_EQ(ENODEV, errno) TH_LOG("%s: %s", what, strerror(errno));
	/* The uAPI: EINVAL whenever the device is not in PRE_COPY(_P2P). */
	EXPECT_EQ(-1, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s: PRECOPY_INFO %s", what, strerror(errno));
}

/* ---- 1: SR-IOV disabled under an open, migrating VF ------------------------- */

static void sriov_remove(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			 uint32_t state)
{
	struct rig *r = &self->rig;
	struct bwrite *b = &self->bw;
	char p[PATH_MAX], why[256];
	uint8_t buf[64];
	uint64_t t_close;
	ssize_t n;
	int st;

	if (!r->pf || !*r->pf)
		SKIP(return, "PF_BDF not set");
	ASSERT_LT(0, r->nvfs);
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/sriov_numvfs", r->pf);
	ASSERT_EQ(r->numvfs, sysfs_long(p)) TH_LOG("sriov_numvfs before the test");

	drv_up(_metadata, self);
	log_on(_metadata, self);
	reach(_metadata, &self->dev, S_PRE_COPY, &self->data_fd);
	ASSERT_LE(0, self->data_fd);
	ASSERT_EQ(16, read(self->data_fd, buf, 16)) TH_LOG("%s", strerror(errno));
	if (state != S_PRE_COPY)
		reach(_metadata, &self->dev, state, NULL);

	self->restore = true;
	ASSERT_EQ(0, bwrite_start(b, p, "0"));
	/* Removal waits for the user. */
	usleep(1500000);
	EXPECT_FALSE(atomic_load(&b->done))
		TH_LOG("sriov_numvfs=0 returned (%s) while the VF was open", strerror(-b->ret));
	/* Meanwhile the open device and its data fd still answer. */
	st = get_state(&self->dev);
	EXPECT_EQ((int)state, st) TH_LOG("state while removal is pending: %s",
					 st < 0 ? vfio_errmsg() : sn(st));
	n = read(self->data_fd, buf, sizeof(buf));
	EXPECT_TRUE(n > 0 || (n < 0 && errno == ENOMSG))
		TH_LOG("data fd read while removal is pending: %zd (%s)", n, strerror(errno));

	/* The user lets go, from this thread: removal must finish. */
	t_close = now_ms();
	igbvf_fini(&self->vf);
	self->vf_up = false;
	vfio_dev_close(&self->dev);
	self->opened = false;
	ASSERT_TRUE(bwrite_wait(b, 60000))
		TH_LOG("sriov_numvfs=0 still blocked 60 s after the device was closed");
	EXPECT_EQ(0, b->ret) TH_LOG("sriov_numvfs=0: %s", strerror(-b->ret));
	ksft_print_msg("sriov_numvfs=0 blocked %llu ms, done %llu ms after the close\n",
		       (unsigned long long)(b->t_end - b->t_start),
		       (unsigned long long)(b->t_end - t_close));

	/* The data fd outlived its device: dead, and closing it is fine. */
	expect_dead(_metadata, self->data_fd, false, "saving fd after the VF was removed");
	EXPECT_EQ(0, close(self->data_fd));
	self->data_fd = -1;
	for (int i = 0; i < r->nvfs; i++) {
		EXPECT_FALSE(pci_exists(r->vfs[i])) TH_LOG("VF %s still there", r->vfs[i]);
	}
	EXPECT_EQ(0, sysfs_long(p));

	/* Back as rig/init.sh made it, and working. */
	ASSERT_EQ(0, rig_restore(r, why, sizeof(why))) TH_LOG("re-creating the VFs: %s", why);
	self->restore = false;
	for (int i = 0; i < r->nvfs && i < 2; i++)
		usable_fresh(_metadata, r->vfs[i]);
}

TEST_F_TIMEOUT(fault, sriov_remove_in_precopy, 240)
{
	sriov_remove(_metadata, self, S_PRE_COPY);
}

TEST_F_TIMEOUT(fault, sriov_remove_in_precopy_p2p, 240)
{
	sriov_remove(_metadata, self, S_PRE_COPY_P2P);
}

/* ---- 2: unbind of the driver under an open device --------------------------- */

TEST_F_TIMEOUT(fault, unbind_while_open, 180)
{
	struct rig *r = &self->rig;
	struct bwrite *b = &self->bw;
	struct vfio_irq_info irq;
	char p[PATH_MAX], why[256], drv[64], bdf[32];
	uint8_t buf[128];
	int efd = -1;
	bool req = false;

	snprintf(bdf, sizeof(bdf), "%s", self->dev.bdf);
	drv_up(_metadata, self);
	log_on(_metadata, self);
	reach(_metadata, &self->dev, S_STOP, NULL);
	reach(_metadata, &self->dev, S_STOP_COPY, &self->data_fd);
	ASSERT_LE(0, self->data_fd);
	ASSERT_EQ(100, read(self->data_fd, buf, 100)) TH_LOG("%s", strerror(errno));

	/* The device request channel, as QEMU registers it. */
	if (!vfio_irq_info(&self->dev, VFIO_PCI_REQ_IRQ_INDEX, &irq) && irq.count == 1) {
		uint64_t set[(sizeof(struct vfio_irq_set) + 8) / 8] = {};
		struct vfio_irq_set *s = (void *)set;

		efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, efd);
		s->argsz = sizeof(*s) + sizeof(int32_t);
		s->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
		s->index = VFIO_PCI_REQ_IRQ_INDEX;
		s->count = 1;
		memcpy(s->data, &efd, sizeof(int32_t));
		ASSERT_EQ(0, ioctl(self->dev.device_fd, VFIO_DEVICE_SET_IRQS, s))
			TH_LOG("SET_IRQS REQ: %s", strerror(errno));
	}

	self->restore = true;
	snprintf(p, sizeof(p), "/sys/bus/pci/drivers/%s/unbind", r->drv);
	ASSERT_EQ(0, bwrite_start(b, p, bdf));
	if (efd >= 0) {
		struct pollfd pfd = { .fd = efd, .events = POLLIN };
		uint64_t cnt = 0;

		req = poll(&pfd, 1, 15000) == 1 && read(efd, &cnt, 8) == 8 && cnt;
		EXPECT_TRUE(req) TH_LOG("no device request within 15 s of the unbind");
	} else {
		usleep(1500000);
	}
	EXPECT_FALSE(atomic_load(&b->done)) TH_LOG("unbind returned (%s) with the device open",
						   strerror(-b->ret));
	igbvf_fini(&self->vf);
	self->vf_up = false;
	vfio_dev_close(&self->dev);
	self->opened = false;
	if (efd >= 0)
		close(efd);
	ASSERT_TRUE(bwrite_wait(b, 30000)) TH_LOG("unbind still blocked 30 s after the close");
	EXPECT_EQ(0, b->ret) TH_LOG("unbind: %s", strerror(-b->ret));
	ksft_print_msg("unbind blocked %llu ms%s\n", (unsigned long long)(b->t_end - b->t_start),
		       req ? " (device request relayed to the user)" : "");
	expect_dead(_metadata, self->data_fd, false, "saving fd after the unbind");
	close(self->data_fd);
	self->data_fd = -1;
	driver_of(bdf, drv, sizeof(drv));
	EXPECT_STREQ("", drv) TH_LOG("%s still bound to %s", bdf, drv);

	ASSERT_EQ(0, rig_restore(r, why, sizeof(why))) TH_LOG("rebind: %s", why);
	self->restore = false;
	usable_fresh(_metadata, bdf);
}

/* ---- 3: FLR in the middle of a data stream ------------------------------------ */

struct streamer {
	int fd;
	bool resume;
	const uint8_t *src;		/* resume: what to write */
	size_t len;			/* stream length */
	_Atomic size_t moved;		/* bytes read / written */
	_Atomic bool stop;
	int first_err;			/* errno that ended it */
	int later_err;			/* errno of one more attempt after that */
	bool early_eof;			/* read 0 before the whole stream */
};

static void *streamer_fn(void *arg)
{
	struct streamer *s = arg;
	uint64_t end = now_ms() + 30000;
	uint8_t b[8];

	while (!atomic_load(&s->stop) && now_ms() < end) {
		size_t at = atomic_load(&s->moved);
		ssize_t n;

		if (s->resume) {
			size_t chunk = s->len - at < 8 ? s->len - at : 8;

			if (!chunk) {
				usleep(1000);	/* all in: wait for the reset */
				n = write(s->fd, b, 0);
				if (n < 0)
					goto failed;
				continue;
			}
			n = write(s->fd, s->src + at, chunk);
		} else {
			n = read(s->fd, b, 1);
			if (n == 0 && at < s->len)
				s->early_eof = true;
		}
		if (n < 0)
			goto failed;
		atomic_fetch_add(&s->moved, (size_t)n);
		usleep(1000);
		continue;
failed:
		s->first_err = errno;
		n = s->resume ? write(s->fd, b, 1) : read(s->fd, b, 1);
		s->later_err = n < 0 ? errno : 0;
		return NULL;
	}
	return NULL;
}

/* Starts a streamer on fd, resets once it moved `after` bytes, joins it. */
static void race_reset(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
		       struct streamer *s, size_t after)
{
	pthread_t th;
	uint64_t end = now_ms() + 20000;
	size_t at_reset;

	ASSERT_EQ(0, pthread_create(&th, NULL, streamer_fn, s));
	while (atomic_load(&s->moved) < after && now_ms() < end)
		usleep(500);
	at_reset = atomic_load(&s->moved);
	EXPECT_EQ(0, reset_dev(&self->dev)) TH_LOG("%s", vfio_errmsg());
	/* The streamer ends on its own at the first failure; bound it anyway. */
	end = now_ms() + 10000;
	while (!s->first_err && now_ms() < end)
		usleep(1000);
	atomic_store(&s->stop, true);
	pthread_join(th, NULL);
	ksft_print_msg("%s: reset after %zu of %zu bytes, %zu moved in all, then %s / %s\n",
		       s->resume ? "resume writer" : "save reader", at_reset, s->len,
		       atomic_load(&s->moved), strerror(s->first_err), strerror(s->later_err));
	EXPECT_EQ(ENODEV, s->first_err) TH_LOG("the fd after the reset: %s",
					      strerror(s->first_err));
	EXPECT_EQ(ENODEV, s->later_err);
	EXPECT_FALSE(s->early_eof) TH_LOG("EOF before the end of the stream");
}

TEST_F_TIMEOUT(fault, reset_during_stopcopy_read, 180)
{
	struct vfio_dev *d = &self->dev;
	struct streamer s = {};
	uint64_t size = 0;
	uint8_t b[128];

	drv_up(_metadata, self);
	dma_check(_metadata, self, "before");
	ASSERT_EQ(0, vfio_mig_data_size(d, &size)) TH_LOG("%s", vfio_errmsg());

	/* One thread: part of the stream, FLR, the rest refused. */
	reach(_metadata, d, S_STOP_COPY, &self->data_fd);
	ASSERT_LE(0, self->data_fd);
	ASSERT_EQ(100, read(self->data_fd, b, 100)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, reset_dev(d)) TH_LOG("%s", vfio_errmsg());
	expect_dead(_metadata, self->data_fd, false, "STOP_COPY fd after an FLR mid-stream");
	expect_dead(_metadata, self->data_fd, false, "and again");
	EXPECT_EQ(S_RUNNING, get_state(d));
	close(self->data_fd);
	self->data_fd = -1;

	/* A reader thread byte by byte, the FLR from here. */
	reach(_metadata, d, S_STOP_COPY, &self->data_fd);
	s.fd = self->data_fd;
	s.len = size;
	race_reset(_metadata, self, &s, 40);
	EXPECT_EQ(S_RUNNING, get_state(d));
	close(self->data_fd);
	self->data_fd = -1;

	/* Saving works again, and so does the VF. */
	EXPECT_EQ(size, save_once(_metadata, d, self->stream));
	usable_here(_metadata, self, "after FLRs during STOP_COPY reads");
}

TEST_F_TIMEOUT(fault, reset_during_resume_write, 180)
{
	struct vfio_dev *d = &self->dev;
	struct streamer s = {};
	size_t half;
	ssize_t n;

	drv_up(_metadata, self);
	dma_check(_metadata, self, "before");
	self->stream_len = save_once(_metadata, d, self->stream);
	half = self->stream_len / 2;

	/* One thread: half a stream, FLR, the rest refused. */
	reach(_metadata, d, S_RESUMING, &self->data_fd);
	ASSERT_LE(0, self->data_fd);
	n = write(self->data_fd, self->stream, half);
	ASSERT_EQ((ssize_t)half, n) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, reset_dev(d)) TH_LOG("%s", vfio_errmsg());
	n = write(self->data_fd, self->stream + half, self->stream_len - half);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ENODEV, errno) TH_LOG("rest of the stream after an FLR: %s", strerror(errno));
	expect_dead(_metadata, self->data_fd, true, "resuming fd after an FLR mid-stream");
	EXPECT_EQ(S_RUNNING, get_state(d));
	close(self->data_fd);
	self->data_fd = -1;

	/*
	 * Resuming works after it: the whole stream into a new fd restores the
	 * VF as saved (the driver carries on without re-init, as after a
	 * "save, reset, restore").
	 */
	reach(_metadata, d, S_RESUMING, &self->data_fd);
	ASSERT_EQ(0, mig_write_all(self->data_fd, self->stream, self->stream_len, 64));
	reach(_metadata, d, S_STOP, NULL);
	close(self->data_fd);
	self->data_fd = -1;
	ASSERT_EQ(0, vfio_enable_bus_master(d));
	reach(_metadata, d, S_RUNNING, NULL);
	dma_check(_metadata, self, "restored after the FLR");

	/* A writer thread 8 bytes at a time, the FLR from here. */
	reach(_metadata, d, S_RESUMING, &self->data_fd);
	s.fd = self->data_fd;
	s.resume = true;
	s.src = self->stream;
	s.len = self->stream_len;
	race_reset(_metadata, self, &s, 100);
	EXPECT_EQ(S_RUNNING, get_state(d));
	close(self->data_fd);
	self->data_fd = -1;
	usable_here(_metadata, self, "after FLRs during RESUMING writes");
}

/* ---- 4: failslab ----------------------------------------------------------------- */

/*
 * failslab set for per-thread exact injection: GFP_KERNEL allocations count
 * (ignore-gfp-wait=N), no dump per failure (verbose=0: a stack trace would
 * fail the run), task filter on. Opens this thread's fail-nth. false: SKIP.
 */
static bool failslab_setup(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	if (access(FAILSLAB, F_OK))
		return false;
	ASSERT_EQ(0, sysfs_read(FAILSLAB "/ignore-gfp-wait", self->fs_ignore,
				sizeof(self->fs_ignore)));
	ASSERT_EQ(0, sysfs_read(FAILSLAB "/verbose", self->fs_verbose, sizeof(self->fs_verbose)));
	ASSERT_EQ(0, sysfs_read(FAILSLAB "/task-filter", self->fs_task, sizeof(self->fs_task)));
	self->fs_set = true;
	ASSERT_EQ(0, sysfs_write(FAILSLAB "/ignore-gfp-wait", "N"));
	/* FAILSLAB_VERBOSE=2: a stack per injected failure, to see where they hit
	 * (the Call Trace lines then fail the VM run: diagnosis only). */
	ASSERT_EQ(0, sysfs_write(FAILSLAB "/verbose", getenv("FAILSLAB_VERBOSE") ?: "0"));
	ASSERT_EQ(0, sysfs_write(FAILSLAB "/task-filter", "Y"));
	self->nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth_fd) TH_LOG("/proc/thread-self/fail-nth: %s", strerror(errno));
	return true;
}

static int nth_arm(int fd, unsigned int n)
{
	char b[16];
	int len = snprintf(b, sizeof(b), "%u", n);

	return pwrite(fd, b, len, 0) == len ? 0 : -errno;
}

static long nth_left(int fd)
{
	char b[16] = {};

	if (pread(fd, b, sizeof(b) - 1, 0) <= 0)
		return -1;
	return strtol(b, NULL, 10);
}

struct fs_case {
	const char *name;
	/* Brings the device to where the call starts (nothing injected). */
	void (*prep)(struct __test_metadata *, FIXTURE_DATA(fault) *);
	/* The one injected syscall: 0 or -errno. */
	int (*call)(FIXTURE_DATA(fault) *);
	/* Checks what the call left behind (nothing injected). */
	void (*after)(struct __test_metadata *, FIXTURE_DATA(fault) *, int ret, bool injected);
	bool allocates;		/* at least one injectable allocation expected */
};

/*
 * Runs c with its n-th slab allocation failing, n = 1, 2, ... until the call
 * makes fewer than n (nothing injected, and then it must succeed). An
 * injected failure must come back as ENOMEM, or be absorbed (success).
 */
static void fs_run(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
		   const struct fs_case *c)
{
	unsigned int n, failed = 0, absorbed = 0;

	for (n = 1; n <= 200; n++) {
		long left;
		int ret;

		c->prep(_metadata, self);
		ASSERT_EQ(0, nth_arm(self->nth_fd, n));
		ret = c->call(self);
		left = nth_left(self->nth_fd);
		nth_arm(self->nth_fd, 0);
		ASSERT_LE(0, left);
		if (left) {
			EXPECT_EQ(0, ret) TH_LOG("%s: nothing injected (n = %u), yet %s", c->name,
						 n, strerror(-ret));
			c->after(_metadata, self, ret, false);
			break;
		}
		if (ret) {
			failed++;
			EXPECT_EQ(-ENOMEM, ret) TH_LOG("%s: allocation %u failed -> %s", c->name,
						       n, strerror(-ret));
		} else {
			absorbed++;
		}
		c->after(_metadata, self, ret, true);
	}
	ksft_print_msg("%s: %u allocations failed one at a time: %u -> ENOMEM, %u absorbed\n",
		       c->name, n - 1, failed, absorbed);
	EXPECT_GE(200, n) TH_LOG("%s: still allocating after 200", c->name);
	if (c->allocates) {
		EXPECT_LT(1, n) TH_LOG("%s: no injectable allocation", c->name);
	}
}

static void prep_running(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	if (self->data_fd >= 0)
		close(self->data_fd);
	if (self->data_fd2 >= 0)
		close(self->data_fd2);
	self->data_fd = self->data_fd2 = -1;
	ASSERT_EQ(0, reset_dev(&self->dev)) TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(S_RUNNING, get_state(&self->dev));
}

/* After a failed arc: any state on its way, or ERROR; never a data fd. */
static void after_failed_arc(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			     const char *name, int ret)
{
	int st = get_state(&self->dev);

	EXPECT_LE(0, st) TH_LOG("%s: GET state after %s: %s", name, strerror(-ret),
				vfio_errmsg());
	EXPECT_EQ(-1, self->data_fd2) TH_LOG("%s: failed, yet a data fd", name);
}

/* save: RUNNING -> STOP_COPY */
static int call_to_stopcopy(FIXTURE_DATA(fault) *self)
{
	return raw_set_state(self->dev.device_fd, S_STOP_COPY, &self->data_fd2);
}

static void after_saving(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			 int ret, uint32_t want_state, int fd, size_t pre)
{
	struct mig_rec recs[MIG_MAX_RECS];
	char why[128];
	size_t len;
	int err;

	if (ret) {
		after_failed_arc(_metadata, self, sn(want_state), ret);
		return;
	}
	EXPECT_EQ((int)want_state, get_state(&self->dev));
	ASSERT_LE(0, fd);
	len = mig_read_all(fd, self->buf + pre, STREAM_BUF - pre, 4096, &err);
	if (want_state == S_PRE_COPY) {
		EXPECT_EQ(ENOMSG, err) TH_LOG("PRE_COPY read: %s", strerror(err));
		EXPECT_EQ(MIG_INITIAL_LEN, len);
		return;
	}
	EXPECT_EQ(0, err) TH_LOG("STOP_COPY read: %s", strerror(err));
	EXPECT_LT(0, mig_stream_parse(self->buf, pre + len, recs, MIG_MAX_RECS, why, sizeof(why)))
		TH_LOG("stream saved under failslab: %s", why);
}

static void after_to_stopcopy(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			      int ret, bool injected)
{
	(void)injected;
	after_saving(_metadata, self, ret, S_STOP_COPY, self->data_fd2, 0);
}

/* save: RUNNING -> PRE_COPY */
static int call_to_precopy(FIXTURE_DATA(fault) *self)
{
	return raw_set_state(self->dev.device_fd, S_PRE_COPY, &self->data_fd2);
}

static void after_to_precopy(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			     int ret, bool injected)
{
	(void)injected;
	after_saving(_metadata, self, ret, S_PRE_COPY, self->data_fd2, 0);
}

/* save: PRE_COPY_P2P -> STOP_COPY continues the pre-copy fd */
static void prep_precopy_p2p(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	int err;

	prep_running(_metadata, self);
	reach(_metadata, &self->dev, S_PRE_COPY, &self->data_fd);
	ASSERT_EQ(MIG_INITIAL_LEN, mig_read_all(self->data_fd, self->buf, STREAM_BUF, 4096, &err));
	ASSERT_EQ(ENOMSG, err);
	reach(_metadata, &self->dev, S_PRE_COPY_P2P, NULL);
}

static void after_append(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			 int ret, bool injected)
{
	uint8_t b[16];

	(void)injected;
	if (ret) {
		after_failed_arc(_metadata, self, "PRE_COPY_P2P -> STOP_COPY", ret);
		/* A failed STOP_COPY leaves ERROR with its files torn down. */
		EXPECT_EQ(S_ERROR, get_state(&self->dev));
		EXPECT_EQ(-1, read(self->data_fd, b, sizeof(b)));
		EXPECT_EQ(ENODEV, errno);
		return;
	}
	EXPECT_EQ(-1, self->data_fd2) TH_LOG("PRE_COPY_P2P -> STOP_COPY made a new fd");
	after_saving(_metadata, self, 0, S_STOP_COPY, self->data_fd, MIG_INITIAL_LEN);
}

/* save: read() of a STOP_COPY fd */
static void prep_stopcopy_fd(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	prep_running(_metadata, self);
	reach(_metadata, &self->dev, S_STOP_COPY, &self->data_fd);
}

static int call_read(FIXTURE_DATA(fault) *self)
{
	ssize_t n = read(self->data_fd, self->buf, STREAM_BUF);

	return n < 0 ? -errno : 0;
}

static void after_read(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
		       int ret, bool injected)
{
	(void)self;
	(void)ret;
	(void)injected;
}

TEST_F_TIMEOUT(fault, failslab_save, 600)
{
	static const struct fs_case cases[] = {
		{ "RUNNING -> STOP_COPY", prep_running, call_to_stopcopy, after_to_stopcopy, true },
		{ "RUNNING -> PRE_COPY", prep_running, call_to_precopy, after_to_precopy, true },
		{ "PRE_COPY_P2P -> STOP_COPY", prep_precopy_p2p, call_to_stopcopy, after_append,
		  false },
		{ "STOP_COPY read", prep_stopcopy_fd, call_read, after_read, false },
	};

	if (!failslab_setup(_metadata, self))
		SKIP(return, "no " FAILSLAB " (not the debug kernel, rig/debug.config)");
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fs_run(_metadata, self, &cases[i]);
	failslab_restore(self);
	prep_running(_metadata, self);
	usable_here(_metadata, self, "after failslab on save");
}

/* resume: STOP -> RESUMING */
static void prep_stop(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	prep_running(_metadata, self);
	reach(_metadata, &self->dev, S_STOP, NULL);
}

static int call_to_resuming(FIXTURE_DATA(fault) *self)
{
	return raw_set_state(self->dev.device_fd, S_RESUMING, &self->data_fd2);
}

static void after_to_resuming(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			      int ret, bool injected)
{
	(void)injected;
	if (ret) {
		after_failed_arc(_metadata, self, "STOP -> RESUMING", ret);
		EXPECT_EQ(S_STOP, get_state(&self->dev)) TH_LOG("a failed STOP -> RESUMING");
		return;
	}
	ASSERT_LE(0, self->data_fd2);
	ASSERT_EQ(0, mig_write_all(self->data_fd2, self->stream, self->stream_len, 4096));
	EXPECT_EQ(0, vfio_mig_set_state(&self->dev, S_STOP, NULL)) TH_LOG("%s", vfio_errmsg());
}

/* resume: write() of the whole stream */
static void prep_resuming(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	prep_running(_metadata, self);
	reach(_metadata, &self->dev, S_RESUMING, &self->data_fd);
}

static int call_write(FIXTURE_DATA(fault) *self)
{
	ssize_t n = write(self->data_fd, self->stream, self->stream_len);

	if (n < 0)
		return -errno;
	return (size_t)n == self->stream_len ? 0 : -EIO;
}

static void after_write(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			int ret, bool injected)
{
	(void)injected;
	EXPECT_EQ(S_RESUMING, get_state(&self->dev));
	/* A refused write left nothing behind: the same write again completes it. */
	if (ret) {
		ASSERT_EQ(0, call_write(self)) TH_LOG("write again after ENOMEM");
	}
	EXPECT_EQ(0, vfio_mig_set_state(&self->dev, S_STOP, NULL)) TH_LOG("%s", vfio_errmsg());
}

/* resume: RESUMING -> STOP (decode, PF restore, VF registers) */
static void prep_resumed(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	prep_resuming(_metadata, self);
	ASSERT_EQ(0, mig_write_all(self->data_fd, self->stream, self->stream_len, 4096));
}

static int call_to_stop(FIXTURE_DATA(fault) *self)
{
	return raw_set_state(self->dev.device_fd, S_STOP, &self->data_fd2);
}

static void after_to_stop(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			  int ret, bool injected)
{
	(void)injected;
	if (ret) {
		/* A failed RESUMING -> STOP leaves ERROR with its files torn down. */
		after_failed_arc(_metadata, self, "RESUMING -> STOP", ret);
		EXPECT_EQ(S_ERROR, get_state(&self->dev));
		return;
	}
	EXPECT_EQ(S_STOP, get_state(&self->dev));
	EXPECT_EQ(0, vfio_enable_bus_master(&self->dev));
	EXPECT_EQ(0, vfio_mig_set_state(&self->dev, S_RUNNING, NULL)) TH_LOG("%s", vfio_errmsg());
}

TEST_F_TIMEOUT(fault, failslab_resume, 600)
{
	static const struct fs_case cases[] = {
		{ "STOP -> RESUMING", prep_stop, call_to_resuming, after_to_resuming, true },
		{ "RESUMING write", prep_resuming, call_write, after_write, true },
		{ "RESUMING -> STOP", prep_resumed, call_to_stop, after_to_stop, false },
	};

	drv_up(_metadata, self);
	self->stream_len = save_once(_metadata, &self->dev, self->stream);
	if (!failslab_setup(_metadata, self))
		SKIP(return, "no " FAILSLAB " (not the debug kernel, rig/debug.config)");
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fs_run(_metadata, self, &cases[i]);
	failslab_restore(self);
	prep_running(_metadata, self);
	usable_here(_metadata, self, "after failslab on resume");
}

/* DMA logging: START and REPORT */
static void prep_log_off(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	ASSERT_EQ(0, dlog_stop(&self->dev));
}

static int call_log_start(FIXTURE_DATA(fault) *self)
{
	struct dlog_range r[2] = { { IOVA_DRV, self->drv_mem }, { IOVA_LOG2, 1 << 20 } };
	uint64_t ps = DPAGE;

	return dlog_start(&self->dev, &ps, r, 2);
}

static void after_log_start(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			    int ret, bool injected)
{
	(void)injected;
	memset(self->bm, 0, 64 * 1024);
	if (ret) {
		/* Nothing started: REPORT refuses, a START without injection works. */
		EXPECT_EQ(-EINVAL, dlog_report(&self->dev, IOVA_DRV, self->drv_mem, DPAGE,
					       self->bm));
		ASSERT_EQ(0, call_log_start(self));
	}
	EXPECT_EQ(0, dlog_report(&self->dev, IOVA_DRV, self->drv_mem, DPAGE, self->bm));
	EXPECT_TRUE(bm_test(self->bm, (self->vf.rxr_iova - IOVA_DRV) / DPAGE))
		TH_LOG("RX ring page not reported");
	EXPECT_EQ(0, dlog_stop(&self->dev));
}

static void prep_log_on(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self)
{
	ASSERT_EQ(0, dlog_stop(&self->dev));
	ASSERT_EQ(0, call_log_start(self));
	memset(self->bm, 0, 64 * 1024);
}

static int call_log_report(FIXTURE_DATA(fault) *self)
{
	return dlog_report(&self->dev, IOVA_DRV, self->drv_mem, DPAGE, self->bm);
}

static void after_log_report(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
			     int ret, bool injected)
{
	(void)ret;
	(void)injected;
	/* The session survives a failed REPORT. */
	EXPECT_EQ(0, call_log_report(self));
	EXPECT_TRUE(bm_test(self->bm, (self->vf.rxr_iova - IOVA_DRV) / DPAGE));
	EXPECT_EQ(0, dlog_stop(&self->dev));
}

TEST_F_TIMEOUT(fault, failslab_log_start, 600)
{
	static const struct fs_case cases[] = {
		{ "DMA_LOGGING_START", prep_log_off, call_log_start, after_log_start, true },
		{ "DMA_LOGGING_REPORT", prep_log_on, call_log_report, after_log_report, false },
	};

	drv_up(_metadata, self);
	if (!failslab_setup(_metadata, self))
		SKIP(return, "no " FAILSLAB " (not the debug kernel, rig/debug.config)");
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fs_run(_metadata, self, &cases[i]);
	failslab_restore(self);
	dma_check(_metadata, self, "after failslab on DMA logging");
}

TEST_HARNESS_MAIN
