// SPDX-License-Identifier: GPL-2.0
/*
 * Polled userspace driver for an 82576 VF. What the device (real or QEMU's
 * igb model) needs before it moves a byte:
 *  - bus mastering on in the VF's PCI_COMMAND;
 *  - the PF has enabled the VF's pool (VFRE/VFTE) and programmed its MAC
 *    filter. The Linux igb PF does that when the VF sends E1000_VF_RESET over
 *    the mailbox after a CTRL.RST; it answers ACK + MAC, or NACK when no MAC
 *    was assigned (then the VF proposes one with E1000_VF_SET_MAC_ADDR);
 *  - RXDCTL/TXDCTL enable, SRRCTL advanced one-buffer descriptors with a
 *    buffer size, ring base/len, and a tail that leaves posted descriptors.
 * QEMU only implements advanced RX descriptors and advanced TX data
 * descriptors, so those are the only formats used here.
 *
 * The 82599 VF (ixgbevf, ixgbe PF) needs the same steps with its own register
 * offsets; its mailbox (82599 datasheet 7.10.3.8) has the same bits and the
 * ixgbe PF speaks the same messages (VF_RESET answers four words, the fourth
 * the multicast filter type, which is not needed here). Differences: SRRCTL
 * DROP_EN is bit 28, VLAN tags are stripped per queue by RXDCTL.VME (the
 * 82576's PF strips them for the VF), the link is VFLINKS.LINK_UP, and the
 * RX frame error bits are CE/LE/PE/OSE/USE (datasheet 7.1.6.2).
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "igbvf_drv.h"

/* V2PMAILBOX bits */
#define MBX_REQ		0x01	/* VF -> PF: message in VMBMEM */
#define MBX_ACK		0x02	/* VF -> PF: PF message consumed */
#define MBX_VFU		0x04	/* VF owns VMBMEM */
#define MBX_PFU		0x08	/* PF owns VMBMEM */
#define MBX_PFSTS	0x10	/* PF wrote a message (read-to-clear) */
#define MBX_PFACK	0x20	/* PF consumed ours (read-to-clear) */
#define MBX_RSTI	0x40	/* reset in progress */
#define MBX_RSTD	0x80	/* PF reset done (read-to-clear) */
#define MBX_R2C		(MBX_PFSTS | MBX_PFACK | MBX_RSTD)
#define MBX_WORDS	16

/* Mailbox message words (igb PF <-> igbvf protocol) */
#define MSG_VF_RESET		0x01
#define MSG_VF_SET_MAC_ADDR	0x02
#define MSG_VF_SET_MULTICAST	0x03
#define MSG_VF_SET_VLAN		0x04
#define MSG_INFO_SHIFT		16
#define MAX_MC			30
#define MSG_ACK			0x80000000u
#define MSG_NACK		0x40000000u
#define MSG_TYPE_MASK		0xFFFFu

/* Advanced descriptor bits */
#define TXD_DTYP_DATA	0x00300000u
#define TXD_DCMD_EOP	0x01000000u
#define TXD_DCMD_IFCS	0x02000000u
#define TXD_DCMD_RS	0x08000000u
#define TXD_DCMD_DEXT	0x20000000u
#define TXD_PAYLEN_SHIFT 14
#define TXD_STAT_DD	0x1u
#define RXD_STAT_DD	0x1u
#define RXD_STAT_EOP	0x2u
#define RXD_STAT_VP	0x8u

#define SRRCTL_BSIZEPKT_SHIFT	10	/* in KiB units */
#define SRRCTL_DESCTYPE_ONEBUF	0x02000000u

#define PAGE		4096u

/* 16-byte descriptors; write-back formats overlay the read formats. */
struct txd {
	uint64_t addr;
	uint32_t cmd_type_len;
	uint32_t olinfo_status;		/* write-back: status (DD) */
};

struct rxd {
	uint64_t pkt_addr;
	uint64_t hdr_addr;		/* write-back: status_error, length, vlan */
};

const struct igbvf_map igbvf_map_82576 = {
	.name = "82576 VF", .device = 0x10ca, .ixgbe = false, .queues = 2,
	.ctrl = 0x0000, .status = 0x0008, .link = 0x0008, .link_up = 1u << 1,
	.eimc = 0x1528, .mailbox = 0x0C40, .mbmem = 0x0800,
	.vfgprc = 0x0F10, .vfgptc = 0x0F14,
	.rdbal = 0x2800, .rdbah = 0x2804, .rdlen = 0x2808, .srrctl = 0x280C,
	.rdh = 0x2810, .rdt = 0x2818, .rxdctl = 0x2828,
	.tdbal = 0x3800, .tdbah = 0x3804, .tdlen = 0x3808, .tdh = 0x3810,
	.tdt = 0x3818, .txdctl = 0x3828, .tdwbal = 0x3838, .tdwbah = 0x383C,
	.srrctl_drop_en = 0x80000000u,
	.rxdctl_on = 1u << 25,
	.rxd_err_mask = 0xF7000000u,	/* CE SE SEQ CXE TCPE IPE RXE */
};

/* ixgbevf regs.h: IXGBE_VFRDBAL(0) 0x1000, IXGBE_VFTDBAL(0) 0x2000, ... */
const struct igbvf_map igbvf_map_82599 = {
	.name = "82599 VF", .device = 0x10ed, .ixgbe = true, .queues = 8,
	.ctrl = 0x0000, .status = 0x0008, .link = 0x0010 /* VFLINKS */,
	.link_up = 1u << 30,
	.eimc = 0x010C, .mailbox = 0x02FC, .mbmem = 0x0200,
	.vfgprc = 0x101C, .vfgptc = 0x201C,
	.rdbal = 0x1000, .rdbah = 0x1004, .rdlen = 0x1008, .srrctl = 0x1014,
	.rdh = 0x1010, .rdt = 0x1018, .rxdctl = 0x1028,
	.tdbal = 0x2000, .tdbah = 0x2004, .tdlen = 0x2008, .tdh = 0x2010,
	.tdt = 0x2018, .txdctl = 0x2028, .tdwbal = 0x2038, .tdwbah = 0x203C,
	.srrctl_drop_en = 0x10000000u,
	.rxdctl_on = (1u << 25) | (1u << 30),	/* ENABLE | VME */
	.rxd_err_mask = 0x3B000000u,	/* CE LE PE OSE USE */
};

const struct igbvf_map *igbvf_map_for(uint16_t device)
{
	if (device == igbvf_map_82576.device)
		return &igbvf_map_82576;
	if (device == igbvf_map_82599.device)
		return &igbvf_map_82599;
	return NULL;
}

const struct igbvf_map *igbvf_map(void)
{
	static const struct igbvf_map *map;
	char path[128], bdf[64] = "", id[16] = "";
	const char *env;
	FILE *f;

	if (map)
		return map;
	map = &igbvf_map_82576;
	env = getenv("VF_BDF");
	if (!env || !*env)
		env = getenv("VF_BDFS");
	if (!env || sscanf(env, "%63s", bdf) != 1)
		return map;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", bdf);
	f = fopen(path, "r");
	if (f) {
		if (fgets(id, sizeof(id), f)) {
			const struct igbvf_map *m = igbvf_map_for(strtoul(id, NULL, 16));

			if (m)
				map = m;
		}
		fclose(f);
	}
	return map;
}

static int vf_fail(struct igbvf *vf, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vf->err, sizeof(vf->err), fmt, ap);
	va_end(ap);
	return -err;
}

static inline uint32_t rd32(struct igbvf *vf, uint64_t off)
{
	return vfio_bar0_read32(vf->dev, off);
}

static inline void wr32(struct igbvf *vf, uint64_t off, uint32_t val)
{
	vfio_bar0_write32(vf->dev, off, val);
}

/* Each V2PMAILBOX read clears PFSTS/PFACK/RSTD; remember them until used. */
static uint32_t mbx_read(struct igbvf *vf)
{
	uint32_t v = rd32(vf, IGBVF_V2PMAILBOX);

	vf->mbx_sticky |= v & MBX_R2C;
	return v | vf->mbx_sticky;
}

static bool mbx_take(struct igbvf *vf, uint32_t bit)
{
	bool set = mbx_read(vf) & bit;

	vf->mbx_sticky &= ~bit;
	return set;
}

static int mbx_wait(struct igbvf *vf, uint32_t bit)
{
	uint64_t end = now_ms() + IGBVF_WAIT_MS;

	do {
		if (mbx_take(vf, bit))
			return 0;
		usleep(100);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

/* VFU is granted only while the PF does not hold PFU. */
static int mbx_lock(struct igbvf *vf)
{
	uint64_t end = now_ms() + IGBVF_WAIT_MS;

	do {
		wr32(vf, IGBVF_V2PMAILBOX, MBX_VFU);
		if (mbx_read(vf) & MBX_VFU)
			return 0;
		usleep(100);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

int igbvf_mbx_send(struct igbvf *vf, const uint32_t *msg, unsigned int n)
{
	if (n > MBX_WORDS)
		return vf_fail(vf, EINVAL, "mailbox message too long");
	if (mbx_lock(vf))
		return vf_fail(vf, ETIMEDOUT, "mailbox: VFU not granted (V2P=0x%x)",
			       rd32(vf, IGBVF_V2PMAILBOX));
	/* Stale ACK/message bits must not be taken for the answer to this. */
	mbx_read(vf);
	vf->mbx_sticky &= ~(MBX_PFACK | MBX_PFSTS);
	for (unsigned int i = 0; i < n; i++)
		wr32(vf, IGBVF_VMBMEM + 4 * i, msg[i]);
	/* REQ without VFU: hand the buffer over and interrupt the PF. */
	wr32(vf, IGBVF_V2PMAILBOX, MBX_REQ);
	if (mbx_wait(vf, MBX_PFACK))
		return vf_fail(vf, ETIMEDOUT,
			       "mailbox: PF did not ACK msg 0x%x (is the PF netdev up?)",
			       msg[0]);
	return 0;
}

int igbvf_mbx_recv(struct igbvf *vf, uint32_t *msg, unsigned int n)
{
	if (n > MBX_WORDS)
		return vf_fail(vf, EINVAL, "mailbox read too long");
	if (mbx_wait(vf, MBX_PFSTS))
		return vf_fail(vf, ETIMEDOUT, "mailbox: no message from PF");
	if (mbx_lock(vf))
		return vf_fail(vf, ETIMEDOUT, "mailbox: VFU not granted for read");
	for (unsigned int i = 0; i < n; i++)
		msg[i] = rd32(vf, IGBVF_VMBMEM + 4 * i);
	/* ACK without VFU: message consumed, buffer released. */
	wr32(vf, IGBVF_V2PMAILBOX, MBX_ACK);
	return 0;
}

/* Answer to request `type`, skipping unsolicited PF messages (link pings). */
static int mbx_recv_reply(struct igbvf *vf, uint32_t type, uint32_t *msg,
			  unsigned int n)
{
	for (int tries = 0; tries < 4; tries++) {
		int ret = igbvf_mbx_recv(vf, msg, n);

		if (ret)
			return ret;
		if ((msg[0] & MSG_TYPE_MASK) == type)
			return 0;
	}
	return vf_fail(vf, EPROTO, "mailbox: no reply of type 0x%x (last 0x%x)",
		       type, msg[0]);
}

/*
 * One request and its answer: sends msg[0..n), reads the reply to the same
 * message type into msg[0..nreply); a NACK (no ACK bit) fails with -EPERM.
 */
static int mbx_call(struct igbvf *vf, uint32_t *msg, unsigned int n,
		    unsigned int nreply, const char *what)
{
	uint32_t type = msg[0] & MSG_TYPE_MASK;
	int ret;

	ret = igbvf_mbx_send(vf, msg, n);
	if (ret)
		return ret;
	ret = mbx_recv_reply(vf, type, msg, nreply);
	if (ret)
		return ret;
	if (!(msg[0] & MSG_ACK))
		return vf_fail(vf, EPERM, "PF refused %s (reply 0x%x)", what, msg[0]);
	return 0;
}

/*
 * ixgbe mailbox API (ixgbevf mbx.h): IXGBE_VF_API_NEGOTIATE and, from API 1.1
 * on, IXGBE_VF_GET_QUEUES. The ixgbe PF keeps the negotiated API per VF
 * (a VF_RESET sets it back to 1.0) and NACKs GET_QUEUES under 1.0.
 */
#define MSG_IXGBE_API_NEGOTIATE	0x08
#define MSG_IXGBE_GET_QUEUES	0x09

int igbvf_ixgbe_api(struct igbvf *vf, uint32_t api)
{
	uint32_t msg[2] = { MSG_IXGBE_API_NEGOTIATE, api };

	if (!IGBVF_IS_IXGBE)
		return vf_fail(vf, EOPNOTSUPP, "mailbox API negotiation is ixgbe only");
	return mbx_call(vf, msg, 2, 2, "the mailbox API");
}

int igbvf_ixgbe_get_queues(struct igbvf *vf, uint32_t q[4])
{
	uint32_t msg[5] = { MSG_IXGBE_GET_QUEUES };
	int ret;

	if (!IGBVF_IS_IXGBE)
		return vf_fail(vf, EOPNOTSUPP, "GET_QUEUES is ixgbe only");
	ret = mbx_call(vf, msg, 5, 5, "GET_QUEUES");
	if (ret)
		return ret;
	memcpy(q, &msg[1], 4 * sizeof(*q));
	return 0;
}

/* Locally administered, unicast, stable per BDF so reruns look the same. */
static void mac_from_bdf(const char *bdf, uint8_t mac[6])
{
	unsigned int dom = 0, bus = 0, dev = 0, fn = 0;

	if (sscanf(bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4) {
		dom = 0;
		sscanf(bdf, "%x:%x.%x", &bus, &dev, &fn);
	}
	mac[0] = 0x02;
	mac[1] = 0x76;	/* 'v' */
	mac[2] = 0x66;	/* 'f' */
	mac[3] = dom & 0xff;
	mac[4] = bus & 0xff;
	mac[5] = ((dev & 0x1f) << 3) | (fn & 7);
}

int igbvf_set_mac(struct igbvf *vf, const uint8_t mac[6])
{
	uint32_t msg[3] = { MSG_VF_SET_MAC_ADDR, 0, 0 };
	int ret;

	memcpy(&msg[1], mac, 6);
	ret = mbx_call(vf, msg, 3, 1, "the MAC");
	if (ret)
		return ret;
	memcpy(vf->mac, mac, 6);
	return 0;
}

/* Hash of a group address as igbvf computes it (12-bit MTA index). */
static uint16_t mc_hash(const uint8_t a[6])
{
	return ((a[4] >> 4) | ((uint16_t)a[5] << 4)) & 0xfff;
}

int igbvf_set_multicast(struct igbvf *vf, const uint8_t (*addrs)[6],
			unsigned int n)
{
	uint32_t msg[MBX_WORDS] = {};
	uint16_t *hashes = (uint16_t *)&msg[1];

	if (n > MAX_MC)
		return vf_fail(vf, EINVAL, "at most %d multicast addresses", MAX_MC);
	msg[0] = MSG_VF_SET_MULTICAST | (n << MSG_INFO_SHIFT);
	for (unsigned int i = 0; i < n; i++)
		hashes[i] = htole16(mc_hash(addrs[i]));
	return mbx_call(vf, msg, MBX_WORDS, 1, "the multicast list");
}

int igbvf_set_vlan(struct igbvf *vf, uint16_t vid, bool add)
{
	uint32_t msg[2] = { MSG_VF_SET_VLAN | ((uint32_t)add << MSG_INFO_SHIFT),
			    vid };

	return mbx_call(vf, msg, 2, 1, add ? "joining a VLAN" : "leaving a VLAN");
}

int igbvf_reset(struct igbvf *vf)
{
	uint32_t msg[3] = { MSG_VF_RESET, 0, 0 };
	uint64_t end;
	int ret;

	/*
	 * CTRL.RST disables our queues and tells the PF (VFLRE), which drops
	 * our filters until the VF_RESET message below re-enables the pool.
	 */
	wr32(vf, IGBVF_CTRL, IGBVF_CTRL_RST);
	end = now_ms() + 200;
	while ((rd32(vf, IGBVF_V2PMAILBOX) & MBX_RSTI) && now_ms() < end)
		usleep(100);
	vf->mbx_sticky = 0;
	vf->tx_tail = vf->tx_clean = vf->rx_next = 0;

	ret = igbvf_mbx_send(vf, msg, 1);
	if (ret)
		return ret;
	ret = mbx_recv_reply(vf, MSG_VF_RESET, msg, 3);
	if (ret)
		return ret;

	if (msg[0] & MSG_ACK) {
		memcpy(vf->mac, &msg[1], 6);
		vf->mac_from_pf = true;
		if (!(vf->mac[0] & 1) && memcmp(vf->mac, "\0\0\0\0\0\0", 6))
			return 0;
	} else if (!(msg[0] & MSG_NACK)) {
		return vf_fail(vf, EPROTO, "VF_RESET reply 0x%x", msg[0]);
	}
	/* No MAC from the PF (NACK or unusable): propose our own. */
	vf->mac_from_pf = false;
	mac_from_bdf(vf->dev->bdf, vf->mac);
	return igbvf_set_mac(vf, vf->mac);
}

bool igbvf_link_up(struct igbvf *vf)
{
	return rd32(vf, igbvf_map()->link) & igbvf_map()->link_up;
}

bool igbvf_wait_link(struct igbvf *vf, unsigned int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (!igbvf_link_up(vf)) {
		if (now_ms() >= end)
			return false;
		usleep(1000);
	}
	return true;
}

void igbvf_rings_disable(struct igbvf *vf)
{
	wr32(vf, IGBVF_RXDCTL, 0);
	wr32(vf, IGBVF_TXDCTL, 0);
}

static void rx_post(struct igbvf *vf, unsigned int i)
{
	volatile struct rxd *d = (volatile struct rxd *)vf->rxr + i;

	d->pkt_addr = htole64(vf->rxbuf_iova + (uint64_t)i * IGBVF_BUF_SIZE);
	d->hdr_addr = 0;	/* also clears the write-back DD bit */
}

int igbvf_rings_setup(struct igbvf *vf)
{
	const uint32_t ring_bytes = IGBVF_RING_SIZE * 16;

	igbvf_rings_disable(vf);
	memset((void *)vf->txr, 0, ring_bytes);
	memset((void *)vf->rxr, 0, ring_bytes);
	vf->tx_tail = vf->tx_clean = vf->rx_next = 0;

	/* Polling only: keep all three VF vectors masked. */
	wr32(vf, IGBVF_EIMC, 0x7);

	wr32(vf, IGBVF_TDBAL, (uint32_t)vf->txr_iova);
	wr32(vf, IGBVF_TDBAH, (uint32_t)(vf->txr_iova >> 32));
	wr32(vf, IGBVF_TDLEN, ring_bytes);
	wr32(vf, IGBVF_TDH, 0);
	wr32(vf, IGBVF_TDT, 0);
	/* Head write-back off: completion is reported by DD in descriptors. */
	wr32(vf, IGBVF_TDWBAL, 0);
	wr32(vf, IGBVF_TDWBAH, 0);
	wr32(vf, IGBVF_TXDCTL, IGBVF_QUEUE_ENABLE);

	wr32(vf, IGBVF_RDBAL, (uint32_t)vf->rxr_iova);
	wr32(vf, IGBVF_RDBAH, (uint32_t)(vf->rxr_iova >> 32));
	wr32(vf, IGBVF_RDLEN, ring_bytes);
	wr32(vf, IGBVF_SRRCTL, IGBVF_SRRCTL_DROP_EN | SRRCTL_DESCTYPE_ONEBUF |
			       (IGBVF_BUF_SIZE >> SRRCTL_BSIZEPKT_SHIFT));
	wr32(vf, IGBVF_RDH, 0);
	wr32(vf, IGBVF_RDT, 0);
	for (unsigned int i = 0; i < IGBVF_RING_SIZE; i++)
		rx_post(vf, i);
	wr32(vf, IGBVF_RXDCTL, IGBVF_RXDCTL_ON);
	/* All but one slot to the device: tail == head would mean empty. */
	wr32(vf, IGBVF_RDT, IGBVF_RING_SIZE - 1);

	if (!(rd32(vf, IGBVF_RXDCTL) & IGBVF_QUEUE_ENABLE) ||
	    !(rd32(vf, IGBVF_TXDCTL) & IGBVF_QUEUE_ENABLE))
		return vf_fail(vf, EIO, "queue enable did not stick (RXDCTL 0x%x TXDCTL 0x%x)",
			       rd32(vf, IGBVF_RXDCTL), rd32(vf, IGBVF_TXDCTL));
	return 0;
}

int igbvf_init(struct igbvf *vf, struct vfio_dev *dev, uint64_t iova)
{
	size_t bufs = (size_t)IGBVF_RING_SIZE * IGBVF_BUF_SIZE;
	char *base;
	int ret;

	memset(vf, 0, sizeof(*vf));
	vf->dev = dev;

	{
		uint16_t device = 0;

		if (vfio_cfg_read(dev, 2, &device, 2) == 0 &&
		    le16toh(device) != IGBVF_DEVICE)
			return vf_fail(vf, ENODEV, "%s is 8086:%04x, not the %s this process drives",
				       dev->bdf, le16toh(device), igbvf_map()->name);
	}

	ret = vfio_dma_alloc(dev, 2 * PAGE + 2 * bufs, iova, &vf->mem);
	if (ret)
		return vf_fail(vf, -ret, "DMA alloc: %s", vfio_errmsg());
	base = vf->mem.va;
	vf->txr = base;
	vf->rxr = base + PAGE;
	vf->txbuf = (uint8_t *)base + 2 * PAGE;
	vf->rxbuf = (uint8_t *)base + 2 * PAGE + bufs;
	vf->txr_iova = iova;
	vf->rxr_iova = iova + PAGE;
	vf->txbuf_iova = iova + 2 * PAGE;
	vf->rxbuf_iova = iova + 2 * PAGE + bufs;

	ret = vfio_enable_bus_master(dev);
	if (ret)
		return vf_fail(vf, -ret, "bus master: %s", vfio_errmsg());
	/*
	 * A reset whose mailbox handshake times out is tried again, as the guest
	 * drivers do (igbvf's and ixgbevf's reset task runs again). Seen about
	 * once in ten VM runs on a loaded 2-core TCG host, right after boot or
	 * SR-IOV enable, with the PF's answer never arriving within 3 s; the
	 * cause is not found yet, so each retry is printed.
	 */
	for (int tries = 1;; tries++) {
		ret = igbvf_reset(vf);
		if (ret != -ETIMEDOUT || tries == 3)
			break;
		fprintf(stderr, "# igbvf_init: reset %d of 3 timed out (%s), resetting again\n",
			tries, vf->err);
	}
	if (ret)
		return ret;
	ret = igbvf_rings_setup(vf);
	if (ret)
		return ret;
	/*
	 * Right after the PF netdev comes up its link is still negotiating;
	 * frames sent before would be held back or lost. Not fatal: a test
	 * that needs the link reports it with its own diagnostics.
	 */
	igbvf_wait_link(vf, IGBVF_WAIT_MS);
	return 0;
}

void igbvf_move(struct igbvf *vf, struct vfio_dev *dev)
{
	vf->dev = dev;
}

void igbvf_fini(struct igbvf *vf)
{
	if (!vf->dev)
		return;
	/* Stop DMA before the memory it targets goes away. */
	if (vf->mem.va)
		igbvf_rings_disable(vf);
	vfio_dma_free(vf->dev, &vf->mem);
	vf->dev = NULL;
}

static bool tx_done(struct igbvf *vf, unsigned int i)
{
	volatile struct txd *d = (volatile struct txd *)vf->txr + i;

	return le32toh(d->olinfo_status) & TXD_STAT_DD;
}

static void tx_reclaim(struct igbvf *vf)
{
	while (vf->tx_clean != vf->tx_tail && tx_done(vf, vf->tx_clean))
		vf->tx_clean = (vf->tx_clean + 1) % IGBVF_RING_SIZE;
}

int igbvf_tx(struct igbvf *vf, const void *frame, size_t len)
{
	unsigned int i = vf->tx_tail, next = (i + 1) % IGBVF_RING_SIZE;
	volatile struct txd *d = (volatile struct txd *)vf->txr + i;

	if (len < 14 || len > IGBVF_BUF_SIZE)
		return vf_fail(vf, EINVAL, "bad TX length %zu", len);
	tx_reclaim(vf);
	if (next == vf->tx_clean)
		return vf_fail(vf, ENOSPC, "TX ring full");

	memcpy(vf->txbuf + (size_t)i * IGBVF_BUF_SIZE, frame, len);
	d->addr = htole64(vf->txbuf_iova + (uint64_t)i * IGBVF_BUF_SIZE);
	d->cmd_type_len = htole32(TXD_DTYP_DATA | TXD_DCMD_DEXT | TXD_DCMD_IFCS |
				  TXD_DCMD_EOP | TXD_DCMD_RS | (uint32_t)len);
	d->olinfo_status = htole32((uint32_t)len << TXD_PAYLEN_SHIFT);
	vf->tx_tail = next;
	wr32(vf, IGBVF_TDT, next);	/* barrier inside */
	return 0;
}

int igbvf_tx_wait(struct igbvf *vf, unsigned int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	for (;;) {
		tx_reclaim(vf);
		if (vf->tx_clean == vf->tx_tail)
			return 0;
		if (now_ms() >= end)
			return vf_fail(vf, ETIMEDOUT,
				       "TX not done: clean %u tail %u TDH %u TDT %u TXDCTL 0x%x",
				       vf->tx_clean, vf->tx_tail,
				       rd32(vf, IGBVF_TDH), rd32(vf, IGBVF_TDT),
				       rd32(vf, IGBVF_TXDCTL));
		usleep(200);
	}
}

unsigned int igbvf_tx_pending(struct igbvf *vf)
{
	tx_reclaim(vf);
	return (vf->tx_tail + IGBVF_RING_SIZE - vf->tx_clean) % IGBVF_RING_SIZE;
}

int igbvf_rx(struct igbvf *vf, void *buf, size_t cap, unsigned int timeout_ms)
{
	uint16_t vlan;

	return igbvf_rx_vlan(vf, buf, cap, timeout_ms, &vlan);
}

int igbvf_rx_vlan(struct igbvf *vf, void *buf, size_t cap,
		  unsigned int timeout_ms, uint16_t *vlan)
{
	uint64_t end = now_ms() + timeout_ms;
	unsigned int i = vf->rx_next;
	volatile struct rxd *d = (volatile struct rxd *)vf->rxr + i;
	volatile uint32_t *status = (volatile uint32_t *)((volatile char *)d + 8);
	volatile uint16_t *length = (volatile uint16_t *)((volatile char *)d + 12);
	volatile uint16_t *tag = (volatile uint16_t *)((volatile char *)d + 14);
	uint32_t st;
	size_t len;
	int ret;

	for (;;) {
		st = le32toh(*status);
		if (st & RXD_STAT_DD)
			break;
		if (now_ms() >= end)
			return 0;
		usleep(200);
	}
	__sync_synchronize();	/* read the buffer only after seeing DD */
	len = le16toh(*length);
	*vlan = (st & RXD_STAT_VP) ? le16toh(*tag) : 0;
	if (!(st & RXD_STAT_EOP) || (st & IGBVF_RXD_ERR_MASK) || len > cap ||
	    len > IGBVF_BUF_SIZE) {
		ret = vf_fail(vf, EMSGSIZE, "RX desc %u: status 0x%x len %zu",
			      i, st, len);
	} else {
		memcpy(buf, vf->rxbuf + (size_t)i * IGBVF_BUF_SIZE, len);
		ret = (int)len;
	}
	/* Give the slot back; it becomes the new one-slot gap at the tail. */
	rx_post(vf, i);
	vf->rx_next = (i + 1) % IGBVF_RING_SIZE;
	wr32(vf, IGBVF_RDT, i);
	return ret;
}
