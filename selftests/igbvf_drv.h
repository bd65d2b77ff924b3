/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace driver for an Intel 82576 VF (igbvf programming model) or 82599
 * VF (ixgbevf) on top of vfio_util: reset + mailbox handshake with the igb or
 * ixgbe PF, one RX and one TX ring of advanced descriptors, polled (no
 * interrupts). The two families differ in register offsets and a few bits
 * (struct igbvf_map); mailbox protocol and descriptor formats are shared.
 */
#ifndef IGBVF_DRV_H
#define IGBVF_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio_util.h"

/*
 * The VF's BAR0 register map, chosen at run time by family: the 82576 VF
 * (igbvf, queue 0 at the 0x2800/0x3800 aliases) or the 82599 VF (ixgbevf,
 * `IXGBE_VF*`/`IXGBE_VT*`). The IGBVF_* names below read the map of the VFs
 * this process tests (igbvf_map()); one process tests one family.
 */
struct igbvf_map {
	const char *name;	/* "82576 VF" */
	uint16_t device;	/* PCI device id */
	bool ixgbe;		/* 82599 VF (ixgbe family) */
	uint8_t queues;		/* queue pairs in BAR0: 2 (82576), 8 (82599) */
	uint32_t ctrl, status, link, link_up;	/* link: register and bit */
	uint32_t eimc, mailbox, mbmem, vfgprc, vfgptc;
	uint32_t rdbal, rdbah, rdlen, srrctl, rdh, rdt, rxdctl;
	uint32_t tdbal, tdbah, tdlen, tdh, tdt, txdctl, tdwbal, tdwbah;
	uint32_t srrctl_drop_en;	/* igb bit 31, ixgbe bit 28 */
	uint32_t rxdctl_on;		/* what "RX queue on" writes (+VME on ixgbe) */
	uint32_t rxd_err_mask;		/* RX write-back frame error bits */
};

extern const struct igbvf_map igbvf_map_82576, igbvf_map_82599;
/*
 * The map for the VFs under test: the family of $VF_BDF (else the first of
 * $VF_BDFS) read from sysfs on first use, 82576 if neither is set.
 */
const struct igbvf_map *igbvf_map(void);
/* The map for a PCI device id, or NULL. */
const struct igbvf_map *igbvf_map_for(uint16_t device);

#define IGBVF_CTRL		(igbvf_map()->ctrl)
#define IGBVF_STATUS		(igbvf_map()->status)
#define IGBVF_EIMC		(igbvf_map()->eimc)
#define IGBVF_VMBMEM		(igbvf_map()->mbmem)
#define IGBVF_V2PMAILBOX	(igbvf_map()->mailbox)
#define IGBVF_VFGPRC		(igbvf_map()->vfgprc)
#define IGBVF_VFGPTC		(igbvf_map()->vfgptc)
#define IGBVF_RDBAL		(igbvf_map()->rdbal)
#define IGBVF_RDBAH		(igbvf_map()->rdbah)
#define IGBVF_RDLEN		(igbvf_map()->rdlen)
#define IGBVF_SRRCTL		(igbvf_map()->srrctl)
#define IGBVF_RDH		(igbvf_map()->rdh)
#define IGBVF_RDT		(igbvf_map()->rdt)
#define IGBVF_RXDCTL		(igbvf_map()->rxdctl)
#define IGBVF_TDBAL		(igbvf_map()->tdbal)
#define IGBVF_TDBAH		(igbvf_map()->tdbah)
#define IGBVF_TDLEN		(igbvf_map()->tdlen)
#define IGBVF_TDH		(igbvf_map()->tdh)
#define IGBVF_TDT		(igbvf_map()->tdt)
#define IGBVF_TXDCTL		(igbvf_map()->txdctl)
#define IGBVF_TDWBAL		(igbvf_map()->tdwbal)
#define IGBVF_TDWBAH		(igbvf_map()->tdwbah)
#define IGBVF_DEVICE		(igbvf_map()->device)
#define IGBVF_SRRCTL_DROP_EN	(igbvf_map()->srrctl_drop_en)
#define IGBVF_RXDCTL_ON		(igbvf_map()->rxdctl_on)
#define IGBVF_RXD_ERR_MASK	(igbvf_map()->rxd_err_mask)
#define IGBVF_IS_IXGBE		(igbvf_map()->ixgbe)
/* Queue pairs in the VF's BAR0 (the migration stream's header counts them). */
#define VF_QUEUES		(igbvf_map()->queues)

/* The same in both families. */
#define IGBVF_CTRL_RST		(1u << 26)
#define IGBVF_QUEUE_ENABLE	(1u << 25)	/* RXDCTL / TXDCTL */

#define IGBVF_BAR0_SIZE		0x4000
#define IGBVF_VENDOR		0x8086

#define IGBVF_RING_SIZE		64	/* descriptors per ring */
#define IGBVF_BUF_SIZE		2048	/* one RX/TX buffer per descriptor */
#define IGBVF_MAX_FRAME		1514	/* no FCS: the PF sets RCTL.SECRC */

/* How long any single wait on the device may take (TCG is slow). */
#define IGBVF_WAIT_MS		3000

struct igbvf {
	struct vfio_dev *dev;
	uint8_t mac[6];
	bool mac_from_pf;	/* PF answered VF_RESET with ACK + MAC */

	/* One DMA area: [tx ring][rx ring][tx buffers][rx buffers] */
	struct vfio_dma_buf mem;
	volatile void *txr;
	volatile void *rxr;
	uint8_t *txbuf;
	uint8_t *rxbuf;
	uint64_t txr_iova, rxr_iova, txbuf_iova, rxbuf_iova;

	unsigned int tx_tail;	/* next descriptor to fill */
	unsigned int tx_clean;	/* oldest descriptor not yet seen done */
	unsigned int rx_next;	/* next descriptor to look at for DD */

	uint32_t mbx_sticky;	/* read-to-clear mailbox bits seen so far */
	char err[256];
};

/*
 * Maps DMA memory at iova, enables bus mastering, resets the VF, gets the MAC
 * (from the PF, or sets a locally administered one derived from the BDF if
 * the PF has none) and brings both rings up. 0 or -errno; vf->err says why.
 */
int igbvf_init(struct igbvf *vf, struct vfio_dev *dev, uint64_t iova);
/*
 * Carry on with another device handle: the migration destination. Nothing is
 * reset or re-initialized; rings, buffers, positions and the MAC stay as they
 * are (the DMA memory must be mapped at the same IOVAs for dev).
 */
void igbvf_move(struct igbvf *vf, struct vfio_dev *dev);
/* Queue disable + DMA unmap; safe on a half-initialized vf. */
void igbvf_fini(struct igbvf *vf);

/* Individual steps, also used directly by tests. */
int igbvf_reset(struct igbvf *vf);
int igbvf_rings_setup(struct igbvf *vf);
void igbvf_rings_disable(struct igbvf *vf);
int igbvf_mbx_send(struct igbvf *vf, const uint32_t *msg, unsigned int n);
int igbvf_mbx_recv(struct igbvf *vf, uint32_t *msg, unsigned int n);
int igbvf_set_mac(struct igbvf *vf, const uint8_t mac[6]);
/*
 * E1000_VF_SET_MULTICAST: the PF filters these groups (by MTA hash) to us.
 * n <= 30; n == 0 clears the list.
 */
int igbvf_set_multicast(struct igbvf *vf, const uint8_t (*addrs)[6],
			unsigned int n);
/* E1000_VF_SET_VLAN: join (add) or leave VLAN vid. */
int igbvf_set_vlan(struct igbvf *vf, uint16_t vid, bool add);
/*
 * 82599 VF only (-EOPNOTSUPP on the 82576): negotiate ixgbe mailbox API `api`
 * (ixgbe_mbox_api_*: 1.1 = 2, 1.2 = 3, 1.3 = 4); ask the PF for the VF's
 * queues, q = {tx queues, rx queues, transparent VLAN, default queue}. A PF
 * NACK gives -EPERM.
 */
int igbvf_ixgbe_api(struct igbvf *vf, uint32_t api);
int igbvf_ixgbe_get_queues(struct igbvf *vf, uint32_t q[4]);
bool igbvf_link_up(struct igbvf *vf);
bool igbvf_wait_link(struct igbvf *vf, unsigned int timeout_ms);

/* Queue one frame (copied into the TX buffer). 0 or -errno (-ENOSPC). */
int igbvf_tx(struct igbvf *vf, const void *frame, size_t len);
/* Wait until every queued frame is written back done. 0 or -ETIMEDOUT. */
int igbvf_tx_wait(struct igbvf *vf, unsigned int timeout_ms);

/*
 * Next received frame into buf. Returns its length, 0 on timeout, or -errno
 * (e.g. -EMSGSIZE for a multi-descriptor or error frame). timeout 0: look once.
 */
int igbvf_rx(struct igbvf *vf, void *buf, size_t cap, unsigned int timeout_ms);
/* Like igbvf_rx; *vlan gets the stripped VLAN tag (TCI) or 0 if none. */
int igbvf_rx_vlan(struct igbvf *vf, void *buf, size_t cap,
		  unsigned int timeout_ms, uint16_t *vlan);
/* Frames queued but not yet written back done. */
unsigned int igbvf_tx_pending(struct igbvf *vf);

#endif /* IGBVF_DRV_H */
