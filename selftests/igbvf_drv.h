/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace driver for an Intel 82576 VF (igbvf programming model) on top of
 * vfio_util: reset + mailbox handshake with the igb PF, one RX and one TX
 * ring of advanced descriptors, polled (no interrupts).
 */
#ifndef IGBVF_DRV_H
#define IGBVF_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio_util.h"

/* VF BAR0 registers (queue 0 sits at the 0x2800/0x3800 aliases). */
#define IGBVF_CTRL		0x0000
#define IGBVF_STATUS		0x0008
#define IGBVF_EIMC		0x1528
#define IGBVF_VMBMEM		0x0800
#define IGBVF_V2PMAILBOX	0x0C40
#define IGBVF_VFGPRC		0x0F10
#define IGBVF_VFGPTC		0x0F14
#define IGBVF_RDBAL		0x2800
#define IGBVF_RDBAH		0x2804
#define IGBVF_RDLEN		0x2808
#define IGBVF_SRRCTL		0x280C
#define IGBVF_RDH		0x2810
#define IGBVF_RDT		0x2818
#define IGBVF_RXDCTL		0x2828
#define IGBVF_TDBAL		0x3800
#define IGBVF_TDBAH		0x3804
#define IGBVF_TDLEN		0x3808
#define IGBVF_TDH		0x3810
#define IGBVF_TDT		0x3818
#define IGBVF_TXDCTL		0x3828
#define IGBVF_TDWBAL		0x3838
#define IGBVF_TDWBAH		0x383C

#define IGBVF_CTRL_RST		(1u << 26)
#define IGBVF_STATUS_LU		(1u << 1)
#define IGBVF_QUEUE_ENABLE	(1u << 25)	/* RXDCTL / TXDCTL */

#define IGBVF_BAR0_SIZE		0x4000
#define IGBVF_VENDOR		0x8086
#define IGBVF_DEVICE		0x10ca

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
