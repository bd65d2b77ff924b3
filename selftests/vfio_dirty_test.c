// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO DMA logging (dirty page tracking) of vfio_ixgbevf_mig, checked
 * against ground truth: a userspace VF driver with RX buffers scattered over
 * a large DMA region knows every page the device wrote (descriptor
 * write-backs, frame bytes, TX write-back), and every one of them must be in
 * the next REPORT (zero false negatives); false positives are printed.
 *
 * Environment (see rig/init.sh):
 *   VF_BDF      the VF (missing: SKIP)
 *   PEER_IF     netdev on the same wire (traffic tests, else SKIP)
 *   MIG_DRIVER  driver the VF is bound to. Without DMA logging (vfio-pci)
 *               every test SKIPs; with vfio_ixgbevf_mig a missing feature
 *               is a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "dirty_util.h"
#include "igbvf_drv.h"
#include "kselftest_harness.h"
#include "mig_util.h"
#include "vfio_util.h"

#define MIG_DRIVER_NAME	"vfio_ixgbevf_mig"
#define IOVA_DRV	0x10000000ull	/* igbvf_drv: TX ring + its own RX ring */
#define IOVA_BIG	0x40000000ull	/* our RX ring + scattered buffers */
#define BIG_SIZE	(32ull << 20)
#define RING_N		512
#define HDR_SIZE	256	/* header buffers (header split), as ixgbe used */
#define FLOWS		64	/* IPv4/UDP flows of the header split and RSS tests */
/* The page of queue 0's RDT: igb 0x2000, ixgbe 0x1000. */
#define RXTAIL_PAGE	((uint64_t)IGBVF_RDT & ~0xfffull)

static bool driver_must_log(void)
{
	const char *d = getenv("MIG_DRIVER");

	return d && !strcmp(d, MIG_DRIVER_NAME);
}

FIXTURE(dirty) {
	struct vfio_dev dev;
	bool opened;
	struct igbvf vf;
	bool vf_up;
	struct drx rx;
	bool rx_up;
	/* A second ring, on RX queue 1 (RSS); traffic_up() halves the region. */
	bool two_rings;
	struct drx rx1;
	bool rx1_up;
	/* Frames from the peer: MIG_ETHERTYPE (0) or IPv4/UDP over this many flows. */
	unsigned int flows;
	struct mig_peer peer;
	uint32_t nonce;
	uint32_t seq;
	bool logging;
	struct dlog_range r[2];
	struct pset truth[2], rep[2], prev[2], old[2];
	struct pset diffseen;	/* changed buffer pages already counted */
	uint64_t *bm;
};

FIXTURE_VARIANT(dirty) {
	enum vfio_mode mode;
	unsigned int straddle_pct;
};

FIXTURE_VARIANT_ADD(dirty, cdev) {
	.mode = VFIO_MODE_CDEV_IOMMUFD,
	.straddle_pct = 30,
};

FIXTURE_VARIANT_ADD(dirty, group) {
	.mode = VFIO_MODE_GROUP_CONTAINER,
	.straddle_pct = 60,
};

/*
 * Buffers inside one page, as igbvf and ixgbevf post them (page halves): the
 * false-positive figures of a real guest. The variants above put 30 and 60 %
 * of the buffers across a page end, whose second page a short frame leaves
 * untouched although the whole buffer must be reported once it is re-posted.
 */
FIXTURE_VARIANT_ADD(dirty, aligned) {
	.mode = VFIO_MODE_CDEV_IOMMUFD,
	.straddle_pct = 0,
};

FIXTURE_SETUP(dirty)
{
	const char *bdf = getenv("VF_BDF");
	int ret;

	self->peer.fd = -1;
	if (!bdf || !*bdf)
		SKIP(return, "VF_BDF not set: no VF to test");
	ret = vfio_dev_open(&self->dev, bdf, variant->mode);
	ASSERT_EQ(0, ret) TH_LOG("open %s via %s: %s", bdf,
				 vfio_mode_name(variant->mode), vfio_errmsg());
	self->opened = true;
	ret = dlog_probe(&self->dev);
	if (ret == 0 && !driver_must_log())
		SKIP(return, "%s has no DMA_LOGGING feature (ENOTTY): driver %s does not track",
		     bdf, getenv("MIG_DRIVER") ?: "?");
	ASSERT_EQ(1, ret) TH_LOG("DMA_LOGGING probe under %s: %d (%s)",
				 getenv("MIG_DRIVER") ?: "?", ret,
				 ret ? strerror(-ret) : "absent");
	self->nonce = (uint32_t)now_ns() | 1;
}

FIXTURE_TEARDOWN(dirty)
{
	if (self->rx1_up) {
		if (self->vf_up)
			drx_disable(&self->rx1);
		drx_free(&self->rx1);
	}
	dirty_fixture_teardown(&self->dev, self->opened, self->logging, &self->peer,
			       &self->vf, self->vf_up, &self->rx, self->rx_up);
	for (int i = 0; i < 2; i++) {
		pset_free(&self->truth[i]);
		pset_free(&self->rep[i]);
		pset_free(&self->prev[i]);
		pset_free(&self->old[i]);
	}
	pset_free(&self->diffseen);
	free(self->bm);
}

/* VF up (igbvf_drv), our ring allocated (not programmed), peer open. */
static void traffic_up(struct __test_metadata *_metadata,
		       FIXTURE_DATA(dirty) *self,
		       const FIXTURE_VARIANT(dirty) *variant, bool need_peer)
{
	const char *peer_if = getenv("PEER_IF");
	int ret;

	if (need_peer && (!peer_if || !*peer_if))
		SKIP(return, "PEER_IF not set: no traffic peer");
	ret = igbvf_init(&self->vf, &self->dev, IOVA_DRV);
	self->vf_up = true;
	ASSERT_EQ(0, ret) TH_LOG("igbvf_init: %s", self->vf.err);
	ret = drx_alloc(&self->rx, &self->vf, IOVA_BIG,
			self->two_rings ? BIG_SIZE / 2 : BIG_SIZE, RING_N,
			variant->straddle_pct, self->nonce);
	self->rx_up = true;
	ASSERT_EQ(0, ret) TH_LOG("%s", self->rx.err);
	if (self->two_rings) {
		ret = drx_alloc(&self->rx1, &self->vf, IOVA_BIG + BIG_SIZE / 2, BIG_SIZE / 2,
				RING_N, variant->straddle_pct, self->nonce + 1);
		self->rx1_up = true;
		ASSERT_EQ(0, ret) TH_LOG("%s", self->rx1.err);
		self->rx1.queue = 1;
	}
	if (need_peer) {
		ret = mig_peer_open(peer_if, &self->peer);
		ASSERT_EQ(0, ret) TH_LOG("peer %s: %s", peer_if, strerror(-ret));
		ASSERT_TRUE(igbvf_wait_link(&self->vf, IGBVF_WAIT_MS))
			TH_LOG("VF link down");
	}
	self->r[0].iova = IOVA_DRV;
	self->r[0].length = (self->vf.mem.size + DPAGE - 1) / DPAGE * DPAGE;
	self->r[1].iova = IOVA_BIG;
	self->r[1].length = BIG_SIZE;
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, pset_init(&self->truth[i], self->r[i].iova, self->r[i].length));
		ASSERT_EQ(0, pset_init(&self->rep[i], self->r[i].iova, self->r[i].length));
		ASSERT_EQ(0, pset_init(&self->prev[i], self->r[i].iova, self->r[i].length));
		ASSERT_EQ(0, pset_init(&self->old[i], self->r[i].iova, self->r[i].length));
	}
	ASSERT_EQ(0, pset_init(&self->diffseen, self->r[1].iova, self->r[1].length));
	self->bm = calloc(1, BIG_SIZE / DPAGE / 8 + 64);
	ASSERT_NE(NULL, self->bm);
}

static void log_start(struct __test_metadata *_metadata,
		      FIXTURE_DATA(dirty) *self)
{
	uint64_t ps = DPAGE;
	int ret = dlog_start(&self->dev, &ps, self->r, 2);

	ASSERT_EQ(0, ret) TH_LOG("DMA_LOGGING_START: %s", strerror(-ret));
	ASSERT_EQ(DPAGE, ps);
	self->logging = true;
}

/* Reports both ranges into self->rep. */
static void report(struct __test_metadata *_metadata, FIXTURE_DATA(dirty) *self)
{
	for (int i = 0; i < 2; i++) {
		int ret;

		memset(self->bm, 0, self->r[i].length / DPAGE / 8 + 8);
		ret = dlog_report(&self->dev, self->r[i].iova, self->r[i].length,
				  DPAGE, self->bm);
		ASSERT_EQ(0, ret) TH_LOG("REPORT [0x%llx, +0x%llx): %s",
					 (unsigned long long)self->r[i].iova,
					 (unsigned long long)self->r[i].length,
					 strerror(-ret));
		pset_from_bitmap(&self->rep[i], self->bm);
	}
}

/* Whether check() prints a line per call (else only on misses). */
static bool check_quiet;

/*
 * Every page of truth must be in rep (or in also, if given). Prints false
 * positives (reported, not in truth). Returns false negatives.
 */
static uint64_t check(struct __test_metadata *_metadata, const char *what,
		      struct pset *truth, struct pset *rep, struct pset *also)
{
	uint64_t fn = 0, fp = 0, nt = 0, nr = 0;

	for (int i = 0; i < 2; i++) {
		for (uint64_t p = 0; p < truth[i].npages; p++) {
			bool t = truth[i].on[p], r = rep[i].on[p];

			nt += t;
			nr += r;
			if (t && !r && !(also && also[i].on[p])) {
				if (fn < 10)
					TH_LOG("%s: page 0x%llx written by the device, not reported",
					       what, (unsigned long long)(truth[i].iova + p * DPAGE));
				fn++;
			}
			if (r && !t)
				fp++;
		}
	}
	if (!check_quiet || fn)
		ksft_print_msg("%s: %llu pages written, %llu reported, %llu missed, %llu false positives (%.2f per written page, %.1f%% of reported)\n",
		       what, (unsigned long long)nt, (unsigned long long)nr,
		       (unsigned long long)fn, (unsigned long long)fp,
		       nt ? (double)fp / nt : 0.0, nr ? 100.0 * fp / nr : 0.0);
	EXPECT_EQ(0, fn) TH_LOG("%s: %llu false negatives", what,
				(unsigned long long)fn);
	return fn;
}

static size_t frame_len(uint32_t seq)
{
	return 60 + (seq * 397u) % (IGBVF_MAX_FRAME - 60 + 1);
}

/*
 * An IPv4/UDP frame of len (>= 60) bytes from the peer, flow seq % flows: the
 * source address and port vary with the flow, so RSS (IPv4 or UDP hash) spreads
 * the flows over a pool's queues and header split cuts after the UDP header
 * (42 bytes). The IPv4 checksum is right (no IPE error in the write-back), the
 * UDP checksum 0 (none).
 */
static void udp_frame(uint8_t *f, size_t len, const uint8_t *dst, const uint8_t *src,
		      unsigned int flows, uint32_t nonce, uint32_t seq)
{
	uint32_t flow = seq % flows, sum = 0;
	uint8_t *ip = f + 14, *udp = f + 34;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (len - 14) >> 8;
	ip[3] = (len - 14) & 0xff;
	ip[4] = seq >> 8;
	ip[5] = seq & 0xff;
	ip[6] = 0x40;			/* DF: not a fragment */
	ip[8] = 64;
	ip[9] = 17;			/* UDP */
	ip[12] = 10;			/* 10.98.<flow>.2 -> 10.99.0.3 */
	ip[13] = 98;
	ip[14] = flow & 0xff;
	ip[15] = 2;
	ip[16] = 10;
	ip[17] = 99;
	ip[18] = 0;
	ip[19] = 3;
	for (int i = 0; i < 20; i += 2)
		sum += ip[i] << 8 | ip[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = ~sum >> 8;
	ip[11] = ~sum & 0xff;
	udp[0] = (1024 + flow) >> 8;
	udp[1] = (1024 + flow) & 0xff;
	udp[2] = 0;
	udp[3] = 9;
	udp[4] = (len - 34) >> 8;
	udp[5] = (len - 34) & 0xff;
	udp[6] = udp[7] = 0;
	for (size_t i = 42; i < len; i++)
		f[i] = (uint8_t)(nonce + seq * 31 + i * 7) | 0x40;
}

static void send_frames(struct __test_metadata *_metadata,
			FIXTURE_DATA(dirty) *self, unsigned int n)
{
	uint8_t f[IGBVF_MAX_FRAME];

	for (unsigned int i = 0; i < n; i++) {
		uint32_t seq = self->seq++;
		size_t len = frame_len(seq);
		int ret;

		if (self->flows)
			udp_frame(f, len, self->vf.mac, self->peer.mac, self->flows,
				  self->nonce, seq);
		else
			mig_frame(f, len, self->vf.mac, self->peer.mac, 0, self->nonce, seq);
		ret = mig_peer_send(&self->peer, f, len);
		ASSERT_EQ(0, ret) TH_LOG("peer send: %s", strerror(-ret));
		if (i % 32 == 31)
			usleep(2000);
	}
}

static uint64_t rx_total(FIXTURE_DATA(dirty) *self)
{
	return self->rx.frames + (self->rx1_up ? self->rx1.frames : 0);
}

/* drx_poll() of our ring(s): frames consumed or -errno (the ring's err says why). */
static int rx_poll(FIXTURE_DATA(dirty) *self, bool recycle)
{
	int ret = drx_poll(&self->rx, &self->truth[1], RING_N, recycle), ret1 = 0;

	if (ret >= 0 && self->rx1_up)
		ret1 = drx_poll(&self->rx1, &self->truth[1], RING_N, recycle);
	return ret < 0 ? ret : ret1 < 0 ? ret1 : ret + ret1;
}

/* Peer sends n frames, waits until the VF has consumed them (bounded). */
static void rx_frames(struct __test_metadata *_metadata,
		      FIXTURE_DATA(dirty) *self, unsigned int n, bool recycle)
{
	uint64_t want = rx_total(self) + n, end;
	int ret = 0;

	send_frames(_metadata, self, n);
	end = now_ms() + IGBVF_WAIT_MS;
	while (rx_total(self) < want && now_ms() < end) {
		ret = rx_poll(self, recycle);
		ASSERT_LE(0, ret) TH_LOG("%s%s", self->rx.err, self->rx1.err);
		if (!ret)
			usleep(200);
	}
	if (rx_total(self) < want)
		ksft_print_msg("got %llu of %llu frames (some dropped)\n",
			       (unsigned long long)rx_total(self),
			       (unsigned long long)want);
	/* A straggler still in flight would write after our look: settle. */
	usleep(20000);
	ret = rx_poll(self, recycle);
	ASSERT_LE(0, ret) TH_LOG("%s%s", self->rx.err, self->rx1.err);
	ASSERT_LT(0, rx_total(self)) TH_LOG("no frame reached the VF");
}

/*
 * Buffer pages whose content changed since the last call: the device wrote
 * them too (a cross-check of the descriptor-derived truth).
 */
static void add_diff(FIXTURE_DATA(dirty) *self)
{
	struct pset d;
	uint64_t extra = 0;

	if (pset_init(&d, self->r[1].iova, self->r[1].length))
		return;
	drx_diff(&self->rx, &d);
	if (self->rx1_up)
		drx_diff(&self->rx1, &d);
	for (uint64_t p = 0; p < d.npages; p++) {
		if (!d.on[p] || self->diffseen.on[p])
			continue;
		self->diffseen.on[p] = 1;
		if (!self->truth[1].on[p]) {
			self->truth[1].on[p] = 1;
			extra++;
		}
	}
	if (extra)
		ksft_print_msg("%llu changed buffer pages beyond the received lengths\n",
			       (unsigned long long)extra);
	pset_free(&d);
}

/* VF sends n frames: the device writes DD into those TX descriptors. */
static void tx_frames(struct __test_metadata *_metadata,
		      FIXTURE_DATA(dirty) *self, unsigned int n)
{
	uint8_t f[256];

	for (unsigned int i = 0; i < n; i++) {
		unsigned int slot = self->vf.tx_tail;
		int ret;

		mig_frame(f, 128, self->peer.mac, self->vf.mac, 0, self->nonce, 1u << 30 | i);
		ret = igbvf_tx(&self->vf, f, 128);
		ASSERT_EQ(0, ret) TH_LOG("%s", self->vf.err);
		pset_mark(&self->truth[0], self->vf.txr_iova + slot * 16, 16);
	}
	ASSERT_EQ(0, igbvf_tx_wait(&self->vf, IGBVF_WAIT_MS)) TH_LOG("%s", self->vf.err);
}

static void clear_truth(FIXTURE_DATA(dirty) *self)
{
	pset_clear(&self->truth[0]);
	pset_clear(&self->truth[1]);
}

/* ---- BAR0 layout -------------------------------------------------------- */

TEST_F(dirty, region_info)
{
	struct vfio_region_info *ri = NULL;
	const struct vfio_region_info_cap_sparse_mmap *sp;
	uint64_t covered = 0;
	uint32_t v_rw = 0;
	void *m;
	int ret;

	ret = vfio_region_info(&self->dev, VFIO_PCI_BAR0_REGION_INDEX, &ri);
	ASSERT_EQ(0, ret) TH_LOG("%s", vfio_errmsg());
	ASSERT_TRUE(ri->flags & VFIO_REGION_INFO_FLAG_MMAP);
	ASSERT_TRUE(ri->flags & VFIO_REGION_INFO_FLAG_CAPS);
	sp = (const void *)vfio_region_cap(ri, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	ASSERT_NE(NULL, sp) TH_LOG("BAR0 has no sparse mmap capability");
	ASSERT_LT(0, sp->nr_areas);
	for (uint32_t i = 0; i < sp->nr_areas; i++) {
		uint64_t o = sp->areas[i].offset, s = sp->areas[i].size;

		ksft_print_msg("BAR0 area %u: [0x%llx, 0x%llx)\n", i,
			       (unsigned long long)o, (unsigned long long)(o + s));
		EXPECT_TRUE(o + s <= RXTAIL_PAGE || o >= RXTAIL_PAGE + DPAGE)
			TH_LOG("area %u covers the RX tail page", i);
		EXPECT_EQ(0, o % DPAGE);
		EXPECT_EQ(0, s % DPAGE);
		covered += s;
	}
	/* Everything but the RX tail page stays mappable (fast path). */
	EXPECT_EQ(ri->size - DPAGE, covered);

	/* The whole BAR: refused. */
	errno = 0;
	m = mmap(NULL, ri->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->dev.device_fd, ri->offset);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno) TH_LOG("mmap of all of BAR0: %s", strerror(errno));
	if (m != MAP_FAILED)
		munmap(m, ri->size);
	/* The RX tail page alone: refused. */
	errno = 0;
	m = mmap(NULL, DPAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->dev.device_fd, ri->offset + RXTAIL_PAGE);
	EXPECT_EQ(MAP_FAILED, m);
	EXPECT_EQ(EINVAL, errno) TH_LOG("mmap of the RX tail page: %s", strerror(errno));
	if (m != MAP_FAILED)
		munmap(m, DPAGE);
	/* Every advertised area: allowed, and it is the device's BAR. */
	for (uint32_t i = 0; i < sp->nr_areas; i++) {
		uint64_t o = sp->areas[i].offset, s = sp->areas[i].size;

		m = mmap(NULL, s, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->dev.device_fd, ri->offset + o);
		ASSERT_NE(MAP_FAILED, m) TH_LOG("mmap of area %u: %s", i, strerror(errno));
		if (o == 0) {
			uint32_t v = *(volatile uint32_t *)((char *)m + IGBVF_STATUS);

			ASSERT_EQ(0, vfio_bar0_read32_rw(&self->dev, IGBVF_STATUS, &v_rw));
			EXPECT_EQ(v_rw & ~0x3u, v & ~0x3u) TH_LOG("STATUS via mmap 0x%x, via read 0x%x",
								  v, v_rw);
		}
		munmap(m, s);
	}
	/* The trapped page is still reachable by read/write. */
	EXPECT_FALSE(vfio_bar0_is_mmapped(&self->dev, IGBVF_RDT));
	EXPECT_EQ(0, vfio_bar0_read32_rw(&self->dev, IGBVF_RDT, &v_rw));
	free(ri);
}

/* ---- ground truth ------------------------------------------------------- */

/* Logging first, then buffers posted (trapped RDT), RX, TX, report. */
TEST_F_TIMEOUT(dirty, ground_truth, 120)
{
	traffic_up(_metadata, self, variant, true);
	log_start(_metadata, self);
	ASSERT_EQ(0, drx_setup(&self->rx, RING_N - 1, false)) TH_LOG("%s", self->rx.err);
	rx_frames(_metadata, self, 400, false);
	tx_frames(_metadata, self, 16);
	add_diff(self);
	ksft_print_msg("%llu frames, %llu buffers posted across a page end\n",
		       (unsigned long long)self->rx.frames,
		       (unsigned long long)self->rx.straddlers);
	report(_metadata, self);
	check(_metadata, "first report", self->truth, self->rep, NULL);
	/* Nothing new: a second report holds only what may still be written. */
	clear_truth(self);
	report(_metadata, self);
	check(_metadata, "idle report", self->truth, self->rep, NULL);
}

/* Buffers posted before START are owned by the device: reported. */
TEST_F_TIMEOUT(dirty, posted_before_start, 120)
{
	traffic_up(_metadata, self, variant, true);
	ASSERT_EQ(0, drx_setup(&self->rx, RING_N - 1, false)) TH_LOG("%s", self->rx.err);
	log_start(_metadata, self);
	rx_frames(_metadata, self, 300, false);
	add_diff(self);
	report(_metadata, self);
	check(_metadata, "posted before start", self->truth, self->rep, NULL);
}

/* ---- header split and RSS ---------------------------------------------- */

/*
 * Header split (SRRCTL.DESCTYPE 2, BSIZEHEADER 256; on the 82599 PSRTYPE asks
 * for a cut after the L2/IP/TCP/UDP headers): each descriptor has its header
 * buffer in a cell of its own, so the device writes two pages per frame that
 * share nothing. Every one of them must be reported: first with the slots
 * consumed, then with them recycled (the trap walks re-posted descriptors,
 * header addresses included), then idle.
 */
TEST_F_TIMEOUT(dirty, header_split, 120)
{
	traffic_up(_metadata, self, variant, true);
	self->flows = FLOWS;
	self->rx.hdr_size = HDR_SIZE;
	drx_set_psrtype(&self->rx, DRX_PSRTYPE_SPLIT, 0);
	log_start(_metadata, self);
	ASSERT_EQ(0, drx_setup(&self->rx, RING_N - 1, false)) TH_LOG("%s", self->rx.err);
	rx_frames(_metadata, self, 400, false);
	add_diff(self);
	ksft_print_msg("%llu frames, %llu split (%llu header bytes), %llu buffers across a page end\n",
		       (unsigned long long)self->rx.frames,
		       (unsigned long long)self->rx.split_frames,
		       (unsigned long long)self->rx.hdr_bytes,
		       (unsigned long long)self->rx.straddlers);
	ASSERT_EQ(self->rx.frames, self->rx.split_frames)
		TH_LOG("the device did not split every frame: header split not exercised");
	report(_metadata, self);
	check(_metadata, "header split, first report", self->truth, self->rep, NULL);
	clear_truth(self);
	rx_frames(_metadata, self, 300, true);
	add_diff(self);
	report(_metadata, self);
	check(_metadata, "header split, slots recycled", self->truth, self->rep, NULL);
	clear_truth(self);
	report(_metadata, self);
	check(_metadata, "header split, idle report", self->truth, self->rep, NULL);
}

/*
 * RSS over the VF's queues 0 and 1 (82599: the PF's MRQC in VMDq + RSS mode,
 * VFPSRTYPE.RQPL = 1 asks for 2 queues): our rings on both, IPv4/UDP flows from
 * the peer hash over both. Queue 1's RDT is in the same trapped page as queue
 * 0's; its buffers must be reported as well. Then the same with the slots
 * recycled and queue 1 using header split.
 */
TEST_F_TIMEOUT(dirty, rss_queue1, 120)
{
	if (!IGBVF_IS_IXGBE)
		SKIP(return, "%s: the igb PF gives a VF pool no RSS (VMOLR.RSSE), its frames stay on queue 0",
		     igbvf_map()->name);
	self->two_rings = true;
	traffic_up(_metadata, self, variant, true);
	self->flows = FLOWS;
	drx_set_psrtype(&self->rx, DRX_PSRTYPE_SPLIT, 1);
	log_start(_metadata, self);
	ASSERT_EQ(0, drx_setup(&self->rx, RING_N - 1, false)) TH_LOG("%s", self->rx.err);
	ASSERT_EQ(0, drx_setup(&self->rx1, RING_N - 1, false)) TH_LOG("%s", self->rx1.err);
	rx_frames(_metadata, self, 400, false);
	add_diff(self);
	ksft_print_msg("%llu frames on queue 0, %llu on queue 1\n",
		       (unsigned long long)self->rx.frames,
		       (unsigned long long)self->rx1.frames);
	ASSERT_LT(0, self->rx1.frames) TH_LOG("no frame on queue 1: RSS not exercised");
	ASSERT_LT(0, self->rx.frames) TH_LOG("no frame on queue 0");
	report(_metadata, self);
	check(_metadata, "RSS, first report", self->truth, self->rep, NULL);
	clear_truth(self);
	/* Queue 1 again, with header split, then recycled traffic on both. */
	self->rx1.hdr_size = HDR_SIZE;
	ASSERT_EQ(0, drx_setup(&self->rx1, RING_N - 1, false)) TH_LOG("%s", self->rx1.err);
	rx_frames(_metadata, self, 600, true);
	add_diff(self);
	ksft_print_msg("%llu frames on queue 0, %llu on queue 1 (%llu split)\n",
		       (unsigned long long)self->rx.frames,
		       (unsigned long long)self->rx1.frames,
		       (unsigned long long)self->rx1.split_frames);
	EXPECT_LT(0, self->rx1.split_frames);
	report(_metadata, self);
	check(_metadata, "RSS, recycled, queue 1 split", self->truth, self->rep, NULL);
	clear_truth(self);
	report(_metadata, self);
	check(_metadata, "RSS, idle report", self->truth, self->rep, NULL);
}

/* ---- continuous traffic ------------------------------------------------- */

struct sender {
	FIXTURE_DATA(dirty) *self;
	volatile int stop;
	unsigned int period_us, max;
	volatile unsigned int sent;
	int err;
};

static void *sender_fn(void *arg)
{
	struct sender *s = arg;
	uint8_t f[IGBVF_MAX_FRAME];

	while (!s->stop && s->sent < s->max) {
		uint32_t seq = s->self->seq++;
		size_t len = frame_len(seq);

		mig_frame(f, len, s->self->vf.mac, s->self->peer.mac, 0,
			  s->self->nonce, seq);
		if (mig_peer_send(&s->self->peer, f, len) && !s->err)
			s->err = errno;
		s->sent++;
		usleep(s->period_us);
	}
	return NULL;
}

/*
 * Reports every ~50 ms while frames keep coming and buffers are recycled. A page
 * the device wrote must be in the report after the write, or in a later one:
 * the driver carries a buffer when it sees its descriptor written back, but a
 * slot the guest has already rewritten in memory (recycled) and not yet posted
 * again looks like one the device may still fill, so its old buffer comes with
 * the report after the re-post (the trap retires it) or with the final report
 * while the device is quiesced (docs/dirty-tracking.md, the invariant). Pages
 * still due after that final report are false negatives; pages that came one
 * report late or more are printed.
 */
TEST_F_TIMEOUT(dirty, continuous, 120)
{
	struct sender s = { .self = self, .period_us = 400, .max = 20000 };
	uint64_t end, fn = 0, reports = 0, frames0, w_sum = 0, r_sum = 0, fp_sum = 0, late = 0;
	struct pset due[2];
	pthread_t th;

	traffic_up(_metadata, self, variant, true);
	/* traffic_up() sets the ranges. */
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pset_init(&due[i], self->r[i].iova, self->r[i].length));
	log_start(_metadata, self);
	ASSERT_EQ(0, drx_setup(&self->rx, 96, false)) TH_LOG("%s", self->rx.err);
	report(_metadata, self);	/* baseline: rep = report 0 */
	check_quiet = true;
	self->rx.epoch = 1;
	self->rx.truth_old = &self->old[1];
	clear_truth(self);
	frames0 = self->rx.frames;
	ASSERT_EQ(0, pthread_create(&th, NULL, sender_fn, &s));
	end = now_ms() + 3000;
	while (now_ms() < end) {
		uint64_t t = now_ms() + 50;

		while (now_ms() < t) {
			int ret = drx_poll(&self->rx, &self->truth[1], RING_N, true);

			if (ret < 0) {
				s.stop = 1;
				pthread_join(th, NULL);
				ASSERT_LE(0, ret) TH_LOG("%s", self->rx.err);
			}
			if (!ret)
				usleep(200);
		}
		for (int i = 0; i < 2; i++)
			memcpy(self->prev[i].on, self->rep[i].on, self->rep[i].npages);
		report(_metadata, self);
		reports++;
		self->rx.epoch++;
		for (int i = 0; i < 2; i++) {
			for (uint64_t p = 0; p < self->rep[i].npages; p++) {
				/*
				 * truth: buffers posted after the last report returned,
				 * due from this one on; old: posted earlier, possibly
				 * written before the last report, which then carried them.
				 */
				bool t = self->truth[i].on[p], o = self->old[i].on[p];
				bool r = self->rep[i].on[p], d = due[i].on[p];
				bool o_due = o && !self->prev[i].on[p];

				w_sum += t || o;
				r_sum += r;
				fp_sum += r && !t && !o && !d;
				late += r && d && !t && !o;
				due[i].on[p] = (d || t || o_due) && !r;
			}
		}
		clear_truth(self);
		pset_clear(&self->old[0]);
		pset_clear(&self->old[1]);
	}
	s.stop = 1;
	pthread_join(th, NULL);
	/* The final report, with the device quiesced as at a migration's end. */
	drx_poll(&self->rx, &self->truth[1], RING_N, false);
	for (int i = 0; i < 2; i++)
		memcpy(self->prev[i].on, self->rep[i].on, self->rep[i].npages);
	ASSERT_EQ(0, vfio_mig_set_state(&self->dev, VFIO_DEVICE_STATE_RUNNING_P2P, NULL))
		TH_LOG("RUNNING_P2P: %s", vfio_errmsg());
	report(_metadata, self);
	ASSERT_EQ(0, vfio_mig_set_state(&self->dev, VFIO_DEVICE_STATE_RUNNING, NULL))
		TH_LOG("RUNNING: %s", vfio_errmsg());
	for (int i = 0; i < 2; i++) {
		for (uint64_t p = 0; p < self->rep[i].npages; p++) {
			bool w = self->truth[i].on[p] || due[i].on[p] ||
				 (self->old[i].on[p] && !self->prev[i].on[p]);

			if (w && !self->rep[i].on[p]) {
				if (fn < 10)
					TH_LOG("page 0x%llx written by the device, in no report",
					       (unsigned long long)(due[i].iova + p * DPAGE));
				fn++;
			}
		}
		pset_free(&due[i]);
	}
	ksft_print_msg("%llu reports, %llu frames received, %u sent, %llu RDT writes\n",
		       (unsigned long long)reports,
		       (unsigned long long)(self->rx.frames - frames0), s.sent,
		       (unsigned long long)self->rx.rdt_writes);
	ksft_print_msg("continuous: %llu pages written, %llu reported, %llu missed, %llu false positives (%.1f%% of reported, %.1f pages per report), %llu reported a report late or more\n",
		       (unsigned long long)w_sum, (unsigned long long)r_sum,
		       (unsigned long long)fn, (unsigned long long)fp_sum,
		       r_sum ? 100.0 * fp_sum / r_sum : 0.0,
		       reports ? (double)r_sum / reports : 0.0, (unsigned long long)late);
	EXPECT_EQ(0, s.err) TH_LOG("peer send: %s", strerror(s.err));
	EXPECT_LT(100, self->rx.frames - frames0) TH_LOG("too little traffic to mean much");
	EXPECT_EQ(0, fn);
}

/* ---- migration FSM ------------------------------------------------------ */

TEST_F_TIMEOUT(dirty, report_in_stop, 120)
{
	uint64_t flags = 0;
	uint32_t st = 0;
	int ret;

	if (vfio_mig_flags(&self->dev, &flags) == -ENOTTY)
		SKIP(return, "no MIGRATION feature");
	traffic_up(_metadata, self, variant, true);
	log_start(_metadata, self);
	ASSERT_EQ(0, drx_setup(&self->rx, RING_N - 1, false)) TH_LOG("%s", self->rx.err);
	rx_frames(_metadata, self, 200, false);
	add_diff(self);
	ret = vfio_mig_set_state(&self->dev, VFIO_DEVICE_STATE_STOP, NULL);
	ASSERT_EQ(0, ret) TH_LOG("RUNNING -> STOP: %s", vfio_errmsg());
	ASSERT_EQ(0, vfio_mig_get_state(&self->dev, &st));
	ASSERT_EQ(VFIO_DEVICE_STATE_STOP, st);
	report(_metadata, self);
	check(_metadata, "report in STOP", self->truth, self->rep, NULL);
	clear_truth(self);
	report(_metadata, self);
	check(_metadata, "second report in STOP", self->truth, self->rep, NULL);
	ret = vfio_mig_set_state(&self->dev, VFIO_DEVICE_STATE_RUNNING, NULL);
	ASSERT_EQ(0, ret) TH_LOG("STOP -> RUNNING: %s", vfio_errmsg());
	rx_frames(_metadata, self, 100, false);
	add_diff(self);
	report(_metadata, self);
	check(_metadata, "report after STOP -> RUNNING", self->truth, self->rep, NULL);
}

/* ---- the DMA view: IOAS vs HWPT attachment ---------------------------------- */

static int attach_pt(struct vfio_dev *d, uint32_t pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach), .pt_id = pt_id,
	};

	return ioctl(d->device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) ? -errno : 0;
}

/*
 * The driver reads guest memory through an iommufd access of its own, attached to the
 * IOAS the device was attached to, so that an IOAS_UNMAP cannot free a page mid-read. A
 * device attached to a HWPT id (as QEMU 9.1+ with the iommufd backend does) names no IOAS
 * the driver can attach to: DMA logging must be refused (EOPNOTSUPP), not run on a view
 * that an unmap could pull away. Back on the IOAS, logging works again.
 */
TEST_F(dirty, hwpt_attach_refused)
{
	struct iommu_hwpt_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	struct dlog_range r = { IOVA_BIG, 4 * DPAGE };
	uint64_t ps = DPAGE;
	int ret;

	if (variant->mode != VFIO_MODE_CDEV_IOMMUFD)
		SKIP(return, "HWPT ids exist with iommufd only");
	alloc.dev_id = self->dev.devid;
	alloc.pt_id = self->dev.ioas_id;
	ASSERT_EQ(0, ioctl(self->dev.iommufd, IOMMU_HWPT_ALLOC, &alloc))
		TH_LOG("IOMMU_HWPT_ALLOC: %s", strerror(errno));
	ASSERT_EQ(0, attach_pt(&self->dev, alloc.out_hwpt_id));
	ret = dlog_start(&self->dev, &ps, &r, 1);
	ksft_print_msg("START with the device on HWPT %u: %d (%s)\n", alloc.out_hwpt_id, ret,
		       ret ? strerror(-ret) : "ok");
	if (!ret)
		dlog_stop(&self->dev);
	EXPECT_EQ(-EOPNOTSUPP, ret) TH_LOG("logging on a view the driver cannot hold");
	ASSERT_EQ(0, attach_pt(&self->dev, self->dev.ioas_id));
	ps = DPAGE;
	ret = dlog_start(&self->dev, &ps, &r, 1);
	EXPECT_EQ(0, ret) TH_LOG("START back on IOAS %u: %s", self->dev.ioas_id, strerror(-ret));
	if (!ret)
		EXPECT_EQ(0, dlog_stop(&self->dev));
	destroy.id = alloc.out_hwpt_id;
	EXPECT_EQ(0, ioctl(self->dev.iommufd, IOMMU_DESTROY, &destroy))
		TH_LOG("IOMMU_DESTROY hwpt: %s", strerror(errno));
}

/* ---- bad inputs ---------------------------------------------------------- */

#define EXPECT_ERRNO(want, call, what) do { \
	int __r = (call); \
	ksft_print_msg("%s: %d (%s)\n", what, __r, __r ? strerror(-__r) : "ok"); \
	EXPECT_EQ(want, __r) TH_LOG("%s: got %d (%s), want %d (%s)", what, __r, \
				    strerror(-__r), want, strerror(-(want))); \
} while (0)

TEST_F(dirty, bad_inputs)
{
	static struct dlog_range many[257];
	struct dlog_range r[2];
	uint64_t ps, rxr_page;
	void *ro;
	int ret;

	traffic_up(_metadata, self, variant, false);
	rxr_page = self->vf.rxr_iova;	/* igbvf_drv's RX ring: in every report */

	EXPECT_ERRNO(0, dlog_stop(&self->dev), "STOP without START");
	EXPECT_ERRNO(-EINVAL, dlog_report(&self->dev, IOVA_BIG, DPAGE, DPAGE, self->bm),
		     "REPORT without START");
	ps = DPAGE;
	EXPECT_ERRNO(-EINVAL, dlog_start(&self->dev, &ps, self->r, 0), "0 ranges");
	for (int i = 0; i < 257; i++) {
		many[i].iova = IOVA_BIG + (uint64_t)i * 2 * DPAGE;
		many[i].length = DPAGE;
	}
	ps = DPAGE;
	EXPECT_ERRNO(-E2BIG, dlog_start(&self->dev, &ps, many, 257), "257 ranges");
	r[0] = (struct dlog_range){ IOVA_BIG, 4 * DPAGE };
	r[1] = (struct dlog_range){ IOVA_BIG + 3 * DPAGE, 4 * DPAGE };
	ps = DPAGE;
	EXPECT_ERRNO(-EINVAL, dlog_start(&self->dev, &ps, r, 2), "overlapping ranges");
	r[1] = (struct dlog_range){ IOVA_BIG, 4 * DPAGE };
	EXPECT_ERRNO(-EINVAL, dlog_start(&self->dev, &ps, r, 2), "identical ranges");
	r[0] = (struct dlog_range){ IOVA_BIG + 512, DPAGE };
	EXPECT_ERRNO(-EINVAL, dlog_start(&self->dev, &ps, r, 1), "unaligned iova");
	r[0] = (struct dlog_range){ IOVA_BIG, DPAGE + 512 };
	EXPECT_ERRNO(-EINVAL, dlog_start(&self->dev, &ps, r, 1), "unaligned length");
	r[0] = (struct dlog_range){ IOVA_BIG, 0 };
	EXPECT_ERRNO(-EINVAL, dlog_start(&self->dev, &ps, r, 1), "zero-length range");
	r[0] = (struct dlog_range){ ~0ull - DPAGE + 1, 2 * DPAGE };
	EXPECT_ERRNO(-EOVERFLOW, dlog_start(&self->dev, &ps, r, 1), "range past 2^64");
	EXPECT_ERRNO(-EFAULT, dlog_start_ptr(&self->dev, &ps, 8, 1), "bad ranges pointer");
	/* Page sizes: 3 * 4 KiB (alignment passes the core's mask test). */
	r[0] = (struct dlog_range){ IOVA_BIG, BIG_SIZE };
	ps = 3 * DPAGE;
	EXPECT_ERRNO(-EINVAL, dlog_start(&self->dev, &ps, r, 1), "page size 12 KiB");
	ps = 0;
	EXPECT_ERRNO(-EINVAL, dlog_start(&self->dev, &ps, r, 1), "page size 0");
	/* Below 4 KiB: the driver rounds up and says so. */
	ps = 512;
	ret = dlog_start(&self->dev, &ps, r, 1);
	EXPECT_ERRNO(0, ret, "page size 512");
	if (!ret) {
		ksft_print_msg("page size 512 -> driver uses %llu\n", (unsigned long long)ps);
		EXPECT_EQ(DPAGE, ps);
		EXPECT_EQ(0, dlog_stop(&self->dev));
	}
	ps = 2 << 20;
	ret = dlog_start(&self->dev, &ps, r, 1);
	EXPECT_ERRNO(0, ret, "page size 2 MiB");
	if (!ret) {
		EXPECT_EQ(2 << 20, ps);
		EXPECT_EQ(0, dlog_stop(&self->dev));
	}
	/* 256 ranges: the most allowed. */
	ps = DPAGE;
	ret = dlog_start(&self->dev, &ps, many, 256);
	EXPECT_ERRNO(0, ret, "256 ranges");
	if (!ret)
		EXPECT_EQ(0, dlog_stop(&self->dev));

	/* A real session, then abuse it. */
	log_start(_metadata, self);
	ps = DPAGE;
	EXPECT_ERRNO(-EBUSY, dlog_start(&self->dev, &ps, self->r, 2), "double START");
	EXPECT_ERRNO(-EINVAL, dlog_report(&self->dev, IOVA_BIG + BIG_SIZE, DPAGE, DPAGE,
					  self->bm), "REPORT after the last range");
	EXPECT_ERRNO(-EINVAL, dlog_report(&self->dev, IOVA_BIG - DPAGE, 2 * DPAGE, DPAGE,
					  self->bm), "REPORT across a range start");
	EXPECT_ERRNO(-EINVAL, dlog_report(&self->dev, 0, DPAGE, DPAGE, self->bm),
		     "REPORT at IOVA 0");
	EXPECT_ERRNO(-EINVAL, dlog_report(&self->dev, IOVA_BIG, BIG_SIZE, 2048, self->bm),
		     "REPORT page size 2 KiB");
	EXPECT_ERRNO(-EINVAL, dlog_report(&self->dev, IOVA_BIG, BIG_SIZE, 3 * DPAGE,
					  self->bm), "REPORT page size 12 KiB");
	/*
	 * QEMU reports each memory section at its exact size, and a VF's MSI-X BAR area
	 * ends mid-page (0x3fd0 bytes): an unaligned window reports the pages it touches.
	 */
	memset(self->bm, 0, 8);
	EXPECT_ERRNO(0, dlog_report(&self->dev, self->r[0].iova, 4 * DPAGE - 0x30, DPAGE,
				    self->bm), "REPORT of an unaligned length");
	EXPECT_ERRNO(0, dlog_report(&self->dev, self->r[0].iova + 0x10, 0x20, DPAGE, self->bm),
		     "REPORT of a window inside one page");
	/*
	 * A bitmap that cannot be pinned: the 6.12 core pins it lazily inside
	 * iova_bitmap_set() and drops what it cannot pin, so REPORT returns 0
	 * (and those bits are lost); a core that checks gives EFAULT. Either
	 * way nothing may crash and the session must survive.
	 */
	ret = dlog_report(&self->dev, self->r[0].iova, self->r[0].length, DPAGE, (void *)8);
	ksft_print_msg("REPORT bitmap at 0x8: %d (%s)%s\n", ret, ret ? strerror(-ret) : "ok",
		       ret ? "" : ": core dropped the bits it could not pin");
	EXPECT_TRUE(ret == 0 || ret == -EFAULT);
	ro = mmap(NULL, 4 * DPAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ret = dlog_report(&self->dev, self->r[0].iova, self->r[0].length, DPAGE, ro);
	ksft_print_msg("REPORT bitmap read-only: %d (%s)%s\n", ret, ret ? strerror(-ret) : "ok",
		       ret ? "" : ": core dropped the bits it could not pin");
	EXPECT_TRUE(ret == 0 || ret == -EFAULT);
	munmap(ro, 4 * DPAGE);

	/*
	 * The session survived: a report while the device is quiesced (when every
	 * ring and recorded buffer is due) carries the RX ring; STOP/START work.
	 */
	ASSERT_EQ(0, vfio_mig_set_state(&self->dev, VFIO_DEVICE_STATE_RUNNING_P2P, NULL))
		TH_LOG("RUNNING_P2P: %s", vfio_errmsg());
	report(_metadata, self);
	ASSERT_EQ(0, vfio_mig_set_state(&self->dev, VFIO_DEVICE_STATE_RUNNING, NULL))
		TH_LOG("RUNNING: %s", vfio_errmsg());
	EXPECT_TRUE(self->rep[0].on[(rxr_page - IOVA_DRV) / DPAGE])
		TH_LOG("RX ring page 0x%llx not reported after the bad inputs",
		       (unsigned long long)rxr_page);
	EXPECT_ERRNO(0, dlog_stop(&self->dev), "STOP");
	EXPECT_ERRNO(0, dlog_stop(&self->dev), "second STOP");
	self->logging = false;
	EXPECT_ERRNO(-EINVAL, dlog_report(&self->dev, self->r[0].iova, DPAGE, DPAGE,
					  self->bm), "REPORT after STOP");
	log_start(_metadata, self);
	report(_metadata, self);
	EXPECT_TRUE(self->rep[0].on[(rxr_page - IOVA_DRV) / DPAGE]);
}

/* ---- statistics in debugfs ----------------------------------------------- */

#define STATS_DIR	DSTATS_DIR

static const char *const stat_names[] = {
	"save_count", "save_bytes", "resume_count", "resume_bytes", "resume_refused",
	"state_transitions", "reset_count", "log_starts", "log_stops", "log_reports",
	"dirty_pages_reported", "tail_writes", "trap_writes", "descs_walked",
	"descs_skipped", "walks_truncated", "walks_refused", "trap_max_ns", "trap_total_ns",
};
#define NSTATS	(sizeof(stat_names) / sizeof(stat_names[0]))

/* Counter `name` of v[] (as filled by dstats_read). */
static uint64_t st(const uint64_t v[NSTATS], const char *name)
{
	for (size_t i = 0; i < NSTATS; i++)
		if (!strcmp(name, stat_names[i]))
			return v[i];
	abort();
}

/* Growth of counter `name` from a[] to b[]. */
#define ST_DELTA(name)	(st(b, name) - st(a, name))

/* A logging session with traffic shows in the device's debugfs counters. */
TEST_F_TIMEOUT(dirty, debugfs_stats, 120)
{
	const char *bdf = getenv("VF_BDF");
	uint64_t a[NSTATS], b[NSTATS];
	char text[4096];
	int ret;

	if (!driver_must_log())
		SKIP(return, "statistics are %s's, not %s's", MIG_DRIVER_NAME,
		     getenv("MIG_DRIVER") ?: "?");
	ret = dstats_read(bdf, stat_names, NSTATS, a, text, sizeof(text));
	ASSERT_EQ(0, ret) TH_LOG(STATS_DIR "/%s/stats: %s", bdf, strerror(-ret));

	traffic_up(_metadata, self, variant, true);
	log_start(_metadata, self);
	ASSERT_EQ(0, drx_setup(&self->rx, RING_N - 1, false)) TH_LOG("%s", self->rx.err);
	rx_frames(_metadata, self, 100, true);
	report(_metadata, self);
	ASSERT_EQ(0, dlog_stop(&self->dev));
	self->logging = false;

	ret = dstats_read(bdf, stat_names, NSTATS, b, text, sizeof(text));
	ASSERT_EQ(0, ret) TH_LOG("stats after the session: %s", strerror(-ret));
	ksft_print_msg("%llu RDT writes by the test; stats:\n%s",
		       (unsigned long long)self->rx.rdt_writes, text);
	EXPECT_EQ(1, ST_DELTA("log_starts"));
	EXPECT_EQ(1, ST_DELTA("log_stops"));
	EXPECT_EQ(2, ST_DELTA("log_reports"));	/* one per range */
	EXPECT_LT(0, ST_DELTA("dirty_pages_reported"));
	EXPECT_LT(0, ST_DELTA("trap_writes"));
	/* Every RDT write of the session was trapped, and is among all tail writes. */
	EXPECT_LE(self->rx.rdt_writes, ST_DELTA("trap_writes"));
	EXPECT_LE(ST_DELTA("trap_writes"), ST_DELTA("tail_writes"));
	EXPECT_LT(0, ST_DELTA("descs_walked"));
	EXPECT_LT(0, st(b, "trap_max_ns"));
	EXPECT_LE(st(b, "trap_max_ns"), st(b, "trap_total_ns"));
	EXPECT_LT(0, ST_DELTA("trap_total_ns"));
}

/* ---- reset -------------------------------------------------------------- */

FIXTURE(dreset) {
	FIXTURE_DATA(dirty) d;
};

FIXTURE_VARIANT(dreset) {
	bool flr;		/* VFIO_DEVICE_RESET, else the VF's own CTRL.RST */
	bool tail_zero;		/* RDH = RDT = 0 then RDT = n - 1 (Linux igbvf); else
			 * RDH = 0, RDT = n - 1 (DPDK igbvf) */
};

FIXTURE_VARIANT_ADD(dreset, flr_tail_zero) { .flr = true, .tail_zero = true };
FIXTURE_VARIANT_ADD(dreset, flr_direct_tail) { .flr = true, .tail_zero = false };
FIXTURE_VARIANT_ADD(dreset, vfrst_direct_tail) { .flr = false, .tail_zero = false };

static const FIXTURE_VARIANT(dirty) reset_dv = {
	.mode = VFIO_MODE_CDEV_IOMMUFD,
	.straddle_pct = 30,
};

FIXTURE_SETUP(dreset)
{
	dirty_setup(_metadata, &self->d, &reset_dv);
}

FIXTURE_TEARDOWN(dreset)
{
	dirty_teardown(_metadata, &self->d, &reset_dv);
}

/*
 * Logging across a reset: after it the guest reprograms the ring and posts
 * (RDT = 0 first like Linux, or straight to n - 1 like DPDK: the hardware
 * tail is 0 after a reset either way); the next report must hold every page.
 */
TEST_F_TIMEOUT(dreset, logging_across_reset, 120)
{
	FIXTURE_DATA(dirty) *d = &self->d;
	int ret;

	traffic_up(_metadata, d, &reset_dv, true);
	log_start(_metadata, d);
	ASSERT_EQ(0, drx_setup(&d->rx, 40, false)) TH_LOG("%s", d->rx.err);
	rx_frames(_metadata, d, 20, false);
	report(_metadata, d);
	check(_metadata, "before reset", d->truth, d->rep, NULL);
	clear_truth(d);

	if (variant->flr) {
		ret = vfio_reset(&d->dev);
		ASSERT_EQ(0, ret) TH_LOG("VFIO_DEVICE_RESET: %s", vfio_errmsg());
		ASSERT_EQ(0, vfio_enable_bus_master(&d->dev)) TH_LOG("%s", vfio_errmsg());
	}
	/* The VF's own reset (CTRL.RST, mailbox): also the re-init after an FLR. */
	ret = igbvf_reset(&d->vf);
	ASSERT_EQ(0, ret) TH_LOG("igbvf_reset: %s", d->vf.err);
	ksft_print_msg("RDH %u RDT %u RXDCTL 0x%x after the reset\n",
		       vfio_bar0_read32(&d->dev, IGBVF_RDH),
		       vfio_bar0_read32(&d->dev, IGBVF_RDT),
		       vfio_bar0_read32(&d->dev, IGBVF_RXDCTL));
	ASSERT_TRUE(igbvf_wait_link(&d->vf, IGBVF_WAIT_MS)) TH_LOG("VF link down after reset");
	ASSERT_EQ(0, drx_setup(&d->rx, RING_N - 1, !variant->tail_zero)) TH_LOG("%s", d->rx.err);
	rx_frames(_metadata, d, 200, false);
	add_diff(d);
	report(_metadata, d);
	check(_metadata, "after reset", d->truth, d->rep, NULL);
}

TEST_HARNESS_MAIN
