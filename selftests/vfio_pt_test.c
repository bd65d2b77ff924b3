// SPDX-License-Identifier: GPL-2.0
/*
 * Pass-through behaviour of an 82576 VF bound to a vfio driver (ours or plain
 * vfio-pci: the variant driver must be transparent here). Every test runs
 * once through cdev + iommufd and once through the legacy group/container.
 *
 * Environment:
 *   VF_BDF      VF under test (missing: every test SKIPs; CI's runner turns
 *               that into a failure)
 *   VF_BDF2     a second VF on the same PF (VF-to-VF tests, else SKIP)
 *   PEER_IF     netdev on the same wire as the PF (DMA tests, else SKIP)
 *   MIG_DRIVER  driver the VF must be bound to
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pci_regs.h>

#include "igbvf_drv.h"
#include "kselftest_harness.h"
#include "mig_util.h"
#include "vfio_util.h"

/* IOVAs: well below the 39-bit vIOMMU limit, clear of the MSI window. */
#define IOVA_VF1	0x10000000ull
#define IOVA_VF2	0x20000000ull
#define IOVA_SCRATCH	0x40000000ull

/* IEEE "local experimental" ethertype: nothing else on the wire uses it. */
#define TEST_ETHERTYPE	0x88B5
#define TEST_MAGIC	0x56464d47u	/* "VFMG" */
#define HDR_LEN		(ETH_HLEN + 12)	/* eth + magic, nonce, seq */

FIXTURE(vf) {
	const char *bdf;
	struct vfio_dev dev;
	bool opened;
	struct igbvf drv;
	bool drv_up;
	struct vfio_dev dev2;
	bool opened2;
	struct igbvf drv2;
	bool drv2_up;
	int sock;
	const char *pf_if;	/* PF netdev whose VF MAC a test set */
	int pf_mac_vf;		/* VF index to clear that MAC on, or -1 */
};

FIXTURE_VARIANT(vf) {
	enum vfio_mode mode;
};

FIXTURE_VARIANT_ADD(vf, cdev_iommufd) {
	.mode = VFIO_MODE_CDEV_IOMMUFD,
};

FIXTURE_VARIANT_ADD(vf, group_container) {
	.mode = VFIO_MODE_GROUP_CONTAINER,
};

static int pf_set_vf_mac(const char *pf_if, int vf, const uint8_t *mac);

FIXTURE_SETUP(vf)
{
	int ret;

	self->sock = -1;
	self->pf_mac_vf = -1;
	self->bdf = getenv("VF_BDF");
	if (!self->bdf || !*self->bdf)
		SKIP(return, "VF_BDF not set: no VF to test");
	ret = vfio_dev_open(&self->dev, self->bdf, variant->mode);
	ASSERT_EQ(0, ret) TH_LOG("open %s via %s: %s", self->bdf,
				 vfio_mode_name(variant->mode), vfio_errmsg());
	self->opened = true;
}

FIXTURE_TEARDOWN(vf)
{
	if (self->sock >= 0)
		close(self->sock);
	if (self->drv2_up)
		igbvf_fini(&self->drv2);
	if (self->opened2)
		vfio_dev_close(&self->dev2);
	if (self->drv_up)
		igbvf_fini(&self->drv);
	if (self->opened)
		vfio_dev_close(&self->dev);
	/* Zero MAC drops the PF's "administratively set" flag again. */
	if (self->pf_mac_vf >= 0)
		pf_set_vf_mac(self->pf_if, self->pf_mac_vf,
			      (const uint8_t *)"\0\0\0\0\0\0");
}

/* Brings the userspace driver up on the fixture's VF (fails the test if not). */
#define DRV_UP(self) do {						\
	int __r = igbvf_init(&(self)->drv, &(self)->dev, IOVA_VF1);	\
	(self)->drv_up = true;						\
	ASSERT_EQ(0, __r) TH_LOG("igbvf_init: %s", (self)->drv.err);	\
} while (0)

static const char *mac_str(const uint8_t *m)
{
	static char s[4][18];
	static int n;
	char *p = s[n++ & 3];

	snprintf(p, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 m[0], m[1], m[2], m[3], m[4], m[5]);
	return p;
}

/* ---- PF side --------------------------------------------------------- */

/* Index N of the VF, from the PF's virtfnN links. */
static int vf_index(const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX];

	for (int i = 0; i < 256; i++) {
		ssize_t n;

		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/physfn/virtfn%d", bdf, i);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			return -1;
		target[n] = 0;
		if (!strcmp(basename(target), bdf))
			return i;
	}
	return -1;
}

/*
 * iproute2's ip, found by path: busybox's ip applet cannot set VF attributes,
 * and busybox sh would run its own applet rather than a PATH lookup.
 */
static const char *iproute2_ip(void)
{
	static const char *const paths[] = {
		"/sbin/ip", "/usr/sbin/ip", "/bin/ip", "/usr/bin/ip",
	};
	struct stat st;

	for (unsigned int i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!lstat(paths[i], &st) && S_ISREG(st.st_mode) &&
		    (st.st_mode & 0111))
			return paths[i];
	return NULL;
}

/*
 * `ip link set dev PF vf N mac M`, the admin's way to assign a VF MAC.
 * Returns ip's exit status, or -errno if it could not be run.
 */
static int pf_set_vf_mac(const char *pf_if, int vf, const uint8_t *mac)
{
	const char *ip = iproute2_ip();
	char vfs[16], macs[18];
	int status;
	pid_t pid;

	if (!ip)
		return -ENOENT;
	snprintf(vfs, sizeof(vfs), "%d", vf);
	snprintf(macs, sizeof(macs), "%s", mac_str(mac));
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		execl(ip, "ip", "link", "set", "dev", pf_if, "vf", vfs, "mac",
		      macs, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

/* ---- peer NIC (AF_PACKET) ------------------------------------------- */

struct peer {
	int ifindex;
	uint8_t mac[6];
};

/* Raw socket on PEER_IF for our ethertype only; brings the link up. */
static int peer_open(const char *ifname, struct peer *p)
{
	return mig_raw_socket(ifname, TEST_ETHERTYPE, &p->ifindex, p->mac);
}

static int peer_send(int fd, const struct peer *p, const uint8_t *frame,
		     size_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(TEST_ETHERTYPE),
		.sll_ifindex = p->ifindex,
		.sll_halen = 6,
	};

	memcpy(sll.sll_addr, frame, 6);
	if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) !=
	    (ssize_t)len)
		return -errno;
	return 0;
}

/* Next incoming frame; 0 on timeout. Our own transmissions are skipped. */
static int peer_recv(int fd, uint8_t *buf, size_t cap, uint64_t deadline)
{
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t n;

		if (now >= deadline)
			return 0;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		n = recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		return (int)n;
	}
}

/* ---- test frames ----------------------------------------------------- */

/* Distinct length per sequence number, from the minimum to a full frame. */
static size_t frame_len(unsigned int seq)
{
	return ETH_ZLEN + (seq * 397u) % (IGBVF_MAX_FRAME - ETH_ZLEN + 1);
}

static uint8_t payload_byte(uint32_t nonce, unsigned int seq, size_t i)
{
	return (uint8_t)(nonce ^ (seq * 131u) ^ (i * 7u) ^ (i >> 8));
}

static size_t build_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
			  uint32_t nonce, unsigned int seq)
{
	size_t len = frame_len(seq);
	uint32_t w;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = TEST_ETHERTYPE >> 8;
	f[13] = TEST_ETHERTYPE & 0xff;
	w = htonl(TEST_MAGIC);
	memcpy(f + 14, &w, 4);
	w = htonl(nonce);
	memcpy(f + 18, &w, 4);
	w = htonl(seq);
	memcpy(f + 22, &w, 4);
	for (size_t i = HDR_LEN; i < len; i++)
		f[i] = payload_byte(nonce, seq, i);
	return len;
}

/*
 * Returns the sequence number of a frame of this run, or -1 for anything
 * else on the wire (ARP, IPv6 ND, frames of an earlier run).
 */
static int frame_seq(const uint8_t *f, size_t len, uint32_t nonce)
{
	uint32_t w;

	if (len < HDR_LEN || f[12] != (TEST_ETHERTYPE >> 8) ||
	    f[13] != (TEST_ETHERTYPE & 0xff))
		return -1;
	memcpy(&w, f + 14, 4);
	if (ntohl(w) != TEST_MAGIC)
		return -1;
	memcpy(&w, f + 18, 4);
	if (ntohl(w) != nonce)
		return -1;
	memcpy(&w, f + 22, 4);
	return (int)ntohl(w);
}

/* First differing byte, or -1 when rx equals the frame built for seq. */
static long frame_diff(const uint8_t *rx, size_t rxlen, const uint8_t *dst,
		       const uint8_t *src, uint32_t nonce, unsigned int seq)
{
	uint8_t want[IGBVF_BUF_SIZE];
	size_t len = build_frame(want, dst, src, nonce, seq);

	if (rxlen != len)
		return (long)(rxlen < len ? rxlen : len);
	for (size_t i = 0; i < len; i++)
		if (rx[i] != want[i])
			return (long)i;
	return -1;
}

static uint32_t new_nonce(void)
{
	return (uint32_t)getpid() * 2654435761u ^ (uint32_t)now_ms();
}

/* Queues a frame, waiting for ring space if the device lags behind. */
static int vf_send(struct igbvf *vf, const uint8_t *f, size_t len)
{
	int ret = igbvf_tx(vf, f, len);

	if (ret == -ENOSPC) {
		ret = igbvf_tx_wait(vf, IGBVF_WAIT_MS);
		if (!ret)
			ret = igbvf_tx(vf, f, len);
	}
	return ret;
}

/* ---- tests: device model --------------------------------------------- */

TEST_F(vf, bound_driver)
{
	const char *want = getenv("MIG_DRIVER");
	char drv[64];

	ASSERT_EQ(0, pci_driver_name(self->bdf, drv, sizeof(drv)))
		TH_LOG("%s", vfio_errmsg());
	TH_LOG("%s is bound to %s", self->bdf, drv);
	if (!want || !*want)
		SKIP(return, "MIG_DRIVER not set, bound to %s", drv);
	ASSERT_STREQ(want, drv);
}

TEST_F(vf, device_info)
{
	const struct vfio_device_info *i = &self->dev.info;

	EXPECT_TRUE(i->flags & VFIO_DEVICE_FLAGS_PCI) TH_LOG("flags 0x%x", i->flags);
	EXPECT_TRUE(i->flags & VFIO_DEVICE_FLAGS_RESET) TH_LOG("flags 0x%x", i->flags);
	EXPECT_GE(i->num_regions, VFIO_PCI_CONFIG_REGION_INDEX + 1);
	EXPECT_GE(i->num_irqs, VFIO_PCI_MSIX_IRQ_INDEX + 1);
}

TEST_F(vf, bar_regions)
{
	const struct vfio_region *r = &self->dev.bar0;
	struct vfio_region_info *ri;
	uint64_t end = 0;

	EXPECT_EQ(IGBVF_BAR0_SIZE, r->size);
	EXPECT_TRUE(r->flags & VFIO_REGION_INFO_FLAG_READ);
	EXPECT_TRUE(r->flags & VFIO_REGION_INFO_FLAG_WRITE);
	TH_LOG("BAR0 flags 0x%x, %s, %u mmap area(s)", r->flags,
	       r->has_sparse_cap ? "sparse-mmap cap" : "no sparse cap",
	       r->nr_areas);
	/* Areas: page aligned, in bounds, ascending, each one actually mapped. */
	for (unsigned int k = 0; k < r->nr_areas; k++) {
		const struct vfio_area *a = &r->areas[k];

		TH_LOG("  area [0x%llx, 0x%llx)", (unsigned long long)a->offset,
		       (unsigned long long)(a->offset + a->size));
		EXPECT_EQ(0, a->offset % 4096);
		EXPECT_EQ(0, a->size % 4096);
		EXPECT_LE(a->offset + a->size, r->size);
		EXPECT_GE(a->offset, end);
		EXPECT_NE(NULL, a->addr);
		end = a->offset + a->size;
	}

	/* 64-bit BARs: 0 = registers, 3 = MSI-X; 1, 2, 4, 5 are empty. */
	ASSERT_EQ(0, vfio_region_info(&self->dev, VFIO_PCI_BAR3_REGION_INDEX, &ri))
		TH_LOG("%s", vfio_errmsg());
	EXPECT_NE(0, ri->size);
	free(ri);
	ASSERT_EQ(0, vfio_region_info(&self->dev, VFIO_PCI_BAR2_REGION_INDEX, &ri))
		TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(0, ri->size);
	free(ri);
}

TEST_F(vf, config_ids)
{
	uint16_t vendor, device;
	uint8_t class[3];

	ASSERT_EQ(0, vfio_cfg_read(&self->dev, PCI_VENDOR_ID, &vendor, 2))
		TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(0, vfio_cfg_read(&self->dev, PCI_DEVICE_ID, &device, 2))
		TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(0, vfio_cfg_read(&self->dev, PCI_CLASS_PROG, class, 3))
		TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(IGBVF_VENDOR, vendor);
	EXPECT_EQ(IGBVF_DEVICE, device);
	EXPECT_EQ(0x02, class[2]);	/* network */
	EXPECT_EQ(0x00, class[1]);	/* ethernet */
}

TEST_F(vf, irq_info)
{
	struct vfio_irq_info irq;

	ASSERT_EQ(0, vfio_irq_info(&self->dev, VFIO_PCI_MSIX_IRQ_INDEX, &irq))
		TH_LOG("%s", vfio_errmsg());
	TH_LOG("MSI-X: %u vectors, flags 0x%x", irq.count, irq.flags);
	EXPECT_GT(irq.count, 0);
	EXPECT_TRUE(irq.flags & VFIO_IRQ_INFO_EVENTFD);
	/* A VF has no INTx pin. */
	ASSERT_EQ(0, vfio_irq_info(&self->dev, VFIO_PCI_INTX_IRQ_INDEX, &irq))
		TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(0, irq.count);
}

/* Both BAR0 access paths (mmap and pread/pwrite) see the same registers. */
TEST_F(vf, bar0_access_paths)
{
	struct vfio_dev *d = &self->dev;
	const uint32_t pat[] = { 0x12345680, 0xfedcba00, 0x0badf000 };
	uint32_t v;

	for (uint64_t pg = 0; pg < IGBVF_BAR0_SIZE; pg += 4096)
		TH_LOG("BAR0 page 0x%04llx: %s", (unsigned long long)pg,
		       vfio_bar0_is_mmapped(d, pg) ? "mmap" : "trapped (pread/pwrite)");

	ASSERT_EQ(0, vfio_bar0_read32_rw(d, IGBVF_STATUS, &v)) TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(v, vfio_bar0_read32(d, IGBVF_STATUS));
	EXPECT_NE(0xffffffff, v);

	/* RDBAL of the (disabled) RX queue is a plain read/write register. */
	vfio_bar0_write32(d, IGBVF_RXDCTL, 0);
	for (unsigned int k = 0; k < sizeof(pat) / sizeof(pat[0]); k++) {
		ASSERT_EQ(0, vfio_bar0_write32_rw(d, IGBVF_RDBAL, pat[k]))
			TH_LOG("%s", vfio_errmsg());
		EXPECT_EQ(pat[k], vfio_bar0_read32(d, IGBVF_RDBAL));
		vfio_bar0_write32(d, IGBVF_RDBAL, ~pat[k] & ~0x7fu);
		ASSERT_EQ(0, vfio_bar0_read32_rw(d, IGBVF_RDBAL, &v))
			TH_LOG("%s", vfio_errmsg());
		EXPECT_EQ(~pat[k] & ~0x7fu, v);
	}
	/* Same for the TX side, which lives on another page. */
	vfio_bar0_write32(d, IGBVF_TXDCTL, 0);
	ASSERT_EQ(0, vfio_bar0_write32_rw(d, IGBVF_TDBAL, 0x55aa5500))
		TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(0x55aa5500, vfio_bar0_read32(d, IGBVF_TDBAL));
	vfio_bar0_write32(d, IGBVF_RDBAL, 0);
	vfio_bar0_write32(d, IGBVF_TDBAL, 0);
}

TEST_F(vf, mailbox_mac)
{
	uint8_t first[6];

	self->drv.dev = &self->dev;
	ASSERT_EQ(0, igbvf_reset(&self->drv)) TH_LOG("%s", self->drv.err);
	TH_LOG("VF MAC %s (%s)", mac_str(self->drv.mac),
	       self->drv.mac_from_pf ? "assigned by PF" : "proposed by VF");
	EXPECT_EQ(0, self->drv.mac[0] & 1);	/* unicast */
	EXPECT_NE(0, memcmp(self->drv.mac, "\0\0\0\0\0\0", 6));
	memcpy(first, self->drv.mac, 6);

	/* A second reset handshake must work and give the same address. */
	ASSERT_EQ(0, igbvf_reset(&self->drv)) TH_LOG("%s", self->drv.err);
	EXPECT_EQ(0, memcmp(first, self->drv.mac, 6))
		TH_LOG("%s then %s", mac_str(first), mac_str(self->drv.mac));
}

TEST_F(vf, rings_up)
{
	struct vfio_dev *d = &self->dev;

	DRV_UP(self);
	EXPECT_TRUE(vfio_bar0_read32(d, IGBVF_RXDCTL) & IGBVF_QUEUE_ENABLE);
	EXPECT_TRUE(vfio_bar0_read32(d, IGBVF_TXDCTL) & IGBVF_QUEUE_ENABLE);
	EXPECT_EQ(IGBVF_RING_SIZE * 16, vfio_bar0_read32(d, IGBVF_RDLEN));
	EXPECT_EQ((uint32_t)self->drv.rxr_iova, vfio_bar0_read32(d, IGBVF_RDBAL));
	EXPECT_EQ(IGBVF_RING_SIZE - 1, vfio_bar0_read32(d, IGBVF_RDT));
	EXPECT_EQ(0, vfio_bar0_read32(d, IGBVF_TDH));
	EXPECT_TRUE(igbvf_link_up(&self->drv))
		TH_LOG("STATUS 0x%x", vfio_bar0_read32(d, IGBVF_STATUS));
}

TEST_F(vf, dma_map_unmap)
{
	struct vfio_dma_buf b = {};
	void *va;

	ASSERT_EQ(0, vfio_dma_alloc(&self->dev, 1 << 20, IOVA_SCRATCH, &b))
		TH_LOG("%s", vfio_errmsg());
	/* An overlapping second mapping must be refused. */
	va = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, va);
	EXPECT_NE(0, vfio_dma_map(&self->dev, va, IOVA_SCRATCH + 8192, 4096));
	EXPECT_EQ(0, vfio_dma_unmap(&self->dev, IOVA_SCRATCH, b.size))
		TH_LOG("%s", vfio_errmsg());
	/* Now the range is free again. */
	EXPECT_EQ(0, vfio_dma_map(&self->dev, va, IOVA_SCRATCH + 8192, 4096))
		TH_LOG("%s", vfio_errmsg());
	EXPECT_EQ(0, vfio_dma_unmap(&self->dev, IOVA_SCRATCH + 8192, 4096))
		TH_LOG("%s", vfio_errmsg());
	munmap(va, 4096);
	munmap(b.va, b.size);
}

/* ---- tests: DMA ------------------------------------------------------ */

/* VF -> wire: N frames, every byte checked on the peer NIC. */
static void tx_to_peer(struct __test_metadata *_metadata,
		       FIXTURE_DATA(vf) *self, unsigned int n)
{
	const char *ifname = getenv("PEER_IF");
	uint8_t f[IGBVF_BUF_SIZE];
	uint32_t nonce = new_nonce();
	struct peer peer;
	uint8_t *seen;
	unsigned int got = 0, stray = 0;
	uint64_t deadline;

	if (!ifname || !*ifname)
		SKIP(return, "PEER_IF not set");
	if (self->sock >= 0)
		close(self->sock);
	self->sock = peer_open(ifname, &peer);
	ASSERT_LE(0, self->sock) TH_LOG("peer socket on %s: %s", ifname,
					strerror(-self->sock));
	if (!self->drv_up)
		DRV_UP(self);
	TH_LOG("VF %s -> peer %s (%s), %u frames", mac_str(self->drv.mac),
	       ifname, mac_str(peer.mac), n);

	for (unsigned int s = 0; s < n; s++) {
		size_t len = build_frame(f, peer.mac, self->drv.mac, nonce, s);

		ASSERT_EQ(0, vf_send(&self->drv, f, len)) TH_LOG("%s", self->drv.err);
	}
	ASSERT_EQ(0, igbvf_tx_wait(&self->drv, IGBVF_WAIT_MS))
		TH_LOG("%s", self->drv.err);

	seen = calloc(n, 1);
	ASSERT_NE(NULL, seen);
	deadline = now_ms() + IGBVF_WAIT_MS;
	while (got < n) {
		int len = peer_recv(self->sock, f, sizeof(f), deadline);
		int seq;
		long bad;

		ASSERT_LE(0, len) TH_LOG("recv: %s", strerror(-len));
		if (!len)
			break;
		seq = frame_seq(f, len, nonce);
		if (seq < 0 || seq >= (int)n) {
			stray++;
			continue;
		}
		EXPECT_EQ(0, seen[seq]) TH_LOG("frame %d twice", seq);
		seen[seq] = 1;
		got++;
		bad = frame_diff(f, len, peer.mac, self->drv.mac, nonce, seq);
		EXPECT_EQ(-1, bad) TH_LOG("frame %d (len %d, want %zu) differs at byte %ld",
					  seq, len, frame_len(seq), bad);
	}
	free(seen);
	EXPECT_EQ(n, got) TH_LOG("received %u of %u frames (%u stray); VFGPTC %u",
				 got, n, stray,
				 vfio_bar0_read32(&self->dev, IGBVF_VFGPTC));
}

/* Wire -> VF: N frames sent in bursts of `burst`, every byte checked. */
static void rx_from_peer(struct __test_metadata *_metadata,
			 FIXTURE_DATA(vf) *self, unsigned int n,
			 unsigned int burst)
{
	const char *ifname = getenv("PEER_IF");
	uint8_t f[IGBVF_BUF_SIZE];
	uint32_t nonce = new_nonce();
	struct peer peer;
	unsigned int next = 0, stray = 0;

	if (!ifname || !*ifname)
		SKIP(return, "PEER_IF not set");
	if (self->sock >= 0)
		close(self->sock);
	self->sock = peer_open(ifname, &peer);
	ASSERT_LE(0, self->sock) TH_LOG("peer socket on %s: %s", ifname,
					strerror(-self->sock));
	if (!self->drv_up)
		DRV_UP(self);
	TH_LOG("peer %s (%s) -> VF %s, %u frames", ifname, mac_str(peer.mac),
	       mac_str(self->drv.mac), n);

	for (unsigned int base = 0; base < n; base += burst) {
		unsigned int end = base + burst < n ? base + burst : n;
		uint64_t deadline;

		for (unsigned int s = base; s < end; s++) {
			size_t len = build_frame(f, self->drv.mac, peer.mac, nonce, s);

			ASSERT_EQ(0, peer_send(self->sock, &peer, f, len))
				TH_LOG("send: %s", strerror(errno));
		}
		/* In-order delivery on one queue: expect exactly base..end-1. */
		deadline = now_ms() + IGBVF_WAIT_MS;
		while (next < end) {
			uint64_t now = now_ms();
			int len, seq;
			long bad;

			len = igbvf_rx(&self->drv, f, sizeof(f),
				       now < deadline ? deadline - now : 0);
			ASSERT_LE(0, len) TH_LOG("%s", self->drv.err);
			ASSERT_NE(0, len) TH_LOG("timeout: got %u of %u (%u stray); RDH %u RDT %u VFGPRC %u",
						 next, n, stray,
						 vfio_bar0_read32(&self->dev, IGBVF_RDH),
						 vfio_bar0_read32(&self->dev, IGBVF_RDT),
						 vfio_bar0_read32(&self->dev, IGBVF_VFGPRC));
			seq = frame_seq(f, len, nonce);
			if (seq < 0) {
				stray++;
				continue;
			}
			ASSERT_EQ((int)next, seq) TH_LOG("out of order");
			bad = frame_diff(f, len, self->drv.mac, peer.mac, nonce, seq);
			EXPECT_EQ(-1, bad) TH_LOG("frame %d (len %d, want %zu) differs at byte %ld",
						  seq, len, frame_len(seq), bad);
			next++;
		}
	}
	TH_LOG("%u frames received, %u stray frames skipped", next, stray);
}

TEST_F_TIMEOUT(vf, dma_tx, 120)
{
	tx_to_peer(_metadata, self, 32);
}

TEST_F_TIMEOUT(vf, dma_rx, 120)
{
	rx_from_peer(_metadata, self, 32, 32);
}

/* More frames than ring slots: head/tail wrap around several times. */
TEST_F_TIMEOUT(vf, dma_tx_ring_wrap, 180)
{
	tx_to_peer(_metadata, self, 3 * IGBVF_RING_SIZE + 7);
}

TEST_F_TIMEOUT(vf, dma_rx_ring_wrap, 180)
{
	rx_from_peer(_metadata, self, 3 * IGBVF_RING_SIZE + 7, 24);
}

/*
 * Same traffic with every register access through pread/pwrite on the device
 * fd: the path a variant driver's trapped BAR pages (RX tail) take.
 */
TEST_F_TIMEOUT(vf, dma_tx_trapped_bar, 180)
{
	self->dev.bar0_force_rw = true;
	tx_to_peer(_metadata, self, IGBVF_RING_SIZE + 5);
}

TEST_F_TIMEOUT(vf, dma_rx_trapped_bar, 180)
{
	self->dev.bar0_force_rw = true;
	rx_from_peer(_metadata, self, 2 * IGBVF_RING_SIZE + 5, 16);
}

/*
 * MAC assigned by the admin on the PF: VF_RESET answers ACK + that MAC, the
 * PF refuses a VF-proposed one (untrusted VF), and traffic to it arrives.
 */
TEST_F_TIMEOUT(vf, pf_assigned_mac, 120)
{
	static const uint8_t admin[6] = { 0x02, 0x4d, 0x49, 0x47, 0x00, 0x01 };
	static const uint8_t other[6] = { 0x02, 0x4d, 0x49, 0x47, 0x00, 0x02 };
	const char *pf_if = getenv("PF_IF");
	const char *peer_if = getenv("PEER_IF");
	int idx, ret;

	if (!pf_if || !*pf_if)
		SKIP(return, "PF_IF not set");
	if (!iproute2_ip())
		SKIP(return, "no iproute2 ip (busybox ip cannot set VF MACs)");
	idx = vf_index(self->bdf);
	ASSERT_LE(0, idx) TH_LOG("no physfn/virtfnN link for %s", self->bdf);
	ret = pf_set_vf_mac(pf_if, idx, admin);
	ASSERT_EQ(0, ret) TH_LOG("%s link set dev %s vf %d mac: status %d",
				 iproute2_ip(), pf_if, idx, ret);
	self->pf_if = pf_if;
	self->pf_mac_vf = idx;

	DRV_UP(self);
	EXPECT_TRUE(self->drv.mac_from_pf);
	EXPECT_EQ(0, memcmp(admin, self->drv.mac, 6))
		TH_LOG("VF %d got %s", idx, mac_str(self->drv.mac));
	EXPECT_EQ(-EPERM, igbvf_set_mac(&self->drv, other)) TH_LOG("%s", self->drv.err);
	EXPECT_EQ(0, memcmp(admin, self->drv.mac, 6));
	if (peer_if && *peer_if)
		rx_from_peer(_metadata, self, 8, 8);
}

/* VFIO_DEVICE_RESET (FLR) stops the queues; the VF works again after init. */
TEST_F_TIMEOUT(vf, device_reset, 120)
{
	struct vfio_dev *d = &self->dev;
	uint8_t f[IGBVF_BUF_SIZE], dst[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t nonce = new_nonce();

	DRV_UP(self);
	ASSERT_EQ(0, vfio_reset(d)) TH_LOG("%s", vfio_errmsg());
	EXPECT_FALSE(vfio_bar0_read32(d, IGBVF_RXDCTL) & IGBVF_QUEUE_ENABLE);
	EXPECT_FALSE(vfio_bar0_read32(d, IGBVF_TXDCTL) & IGBVF_QUEUE_ENABLE);

	ASSERT_EQ(0, vfio_enable_bus_master(d)) TH_LOG("%s", vfio_errmsg());
	ASSERT_EQ(0, igbvf_reset(&self->drv)) TH_LOG("%s", self->drv.err);
	ASSERT_EQ(0, igbvf_rings_setup(&self->drv)) TH_LOG("%s", self->drv.err);
	/* TX write-back proves DMA works again (no peer needed). */
	for (unsigned int s = 0; s < 8; s++) {
		size_t len = build_frame(f, dst, self->drv.mac, nonce, s);

		ASSERT_EQ(0, vf_send(&self->drv, f, len)) TH_LOG("%s", self->drv.err);
	}
	EXPECT_EQ(0, igbvf_tx_wait(&self->drv, IGBVF_WAIT_MS))
		TH_LOG("%s", self->drv.err);
}

/* ---- tests: two VFs -------------------------------------------------- */

static void open_second(struct __test_metadata *_metadata,
			FIXTURE_DATA(vf) *self, enum vfio_mode mode)
{
	const char *bdf2 = getenv("VF_BDF2");

	if (!bdf2 || !*bdf2)
		SKIP(return, "VF_BDF2 not set");
	ASSERT_EQ(0, vfio_dev_open(&self->dev2, bdf2, mode))
		TH_LOG("open %s: %s", bdf2, vfio_errmsg());
	self->opened2 = true;
}

TEST_F(vf, two_vfs_open)
{
	open_second(_metadata, self, variant->mode);
	if (!self->opened2)
		return;
	EXPECT_EQ(self->dev.bar0.size, self->dev2.bar0.size);
	/* Separate IOMMU groups: each VF can be handed to its own owner. */
	if (variant->mode == VFIO_MODE_GROUP_CONTAINER) {
		EXPECT_NE(self->dev.group_id, self->dev2.group_id);
	} else {
		EXPECT_NE(self->dev.iommufd, self->dev2.iommufd);
	}
}

/* VF1 -> VF2 through the PF's internal switch, then back. */
TEST_F_TIMEOUT(vf, vf_to_vf, 180)
{
	struct igbvf *a = &self->drv, *b = &self->drv2;
	uint8_t f[IGBVF_BUF_SIZE];
	uint32_t nonce = new_nonce();
	const unsigned int n = 16;
	int r;

	open_second(_metadata, self, variant->mode);
	if (!self->opened2)
		return;
	DRV_UP(self);
	r = igbvf_init(b, &self->dev2, IOVA_VF2);
	self->drv2_up = true;
	ASSERT_EQ(0, r) TH_LOG("igbvf_init VF2: %s", b->err);
	TH_LOG("VF1 %s <-> VF2 %s", mac_str(a->mac), mac_str(b->mac));
	ASSERT_NE(0, memcmp(a->mac, b->mac, 6));

	for (int dir = 0; dir < 2; dir++) {
		struct igbvf *tx = dir ? b : a, *rx = dir ? a : b;
		unsigned int next = 0, stray = 0;
		uint64_t deadline;

		for (unsigned int s = 0; s < n; s++) {
			size_t len = build_frame(f, rx->mac, tx->mac, nonce + dir, s);

			ASSERT_EQ(0, vf_send(tx, f, len)) TH_LOG("%s", tx->err);
		}
		ASSERT_EQ(0, igbvf_tx_wait(tx, IGBVF_WAIT_MS)) TH_LOG("%s", tx->err);
		deadline = now_ms() + IGBVF_WAIT_MS;
		while (next < n) {
			uint64_t now = now_ms();
			int len, seq;

			len = igbvf_rx(rx, f, sizeof(f),
				       now < deadline ? deadline - now : 0);
			ASSERT_LE(0, len) TH_LOG("%s", rx->err);
			ASSERT_NE(0, len) TH_LOG("dir %d: got %u of %u (%u stray)",
						 dir, next, n, stray);
			seq = frame_seq(f, len, nonce + dir);
			if (seq < 0) {
				stray++;
				continue;
			}
			ASSERT_EQ((int)next, seq);
			EXPECT_EQ(-1, frame_diff(f, len, rx->mac, tx->mac,
						 nonce + dir, seq));
			next++;
		}
	}
}

TEST_HARNESS_MAIN
