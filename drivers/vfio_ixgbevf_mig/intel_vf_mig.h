/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PF-held state of Intel SR-IOV VFs (igb: 82576/I350, ixgbe: 82599/X540/X550),
 * exported so that a VF migration driver can save it on the source host and
 * program it into the destination PF.
 *
 * The PF driver, not the VF, owns part of each VF's configuration: the filters
 * the VF asked for over the mailbox (MAC, multicast hashes, VLANs, MAC-VLANs,
 * promiscuous modes, max frame), the negotiated mailbox API, whether the VF
 * completed its reset handshake, and the administrator's per-VF settings.
 *
 * A migration driver looks the table up with __symbol_get("igb_vf_mig_ops") or
 * __symbol_get("ixgbe_vf_mig_ops"), so it does not depend on either module.
 * All ops take a VF that the caller's driver is bound to (see
 * pci_iov_get_pf_drvdata()) and return -ENODEV if the VF does not belong to a
 * PF driven by that driver or SR-IOV is being torn down.
 */
#ifndef _LINUX_INTEL_VF_MIG_H
#define _LINUX_INTEL_VF_MIG_H

#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/types.h>

struct pci_dev;

/* The ops table (2: post added); the ctx layout has its own version. */
#define INTEL_VF_MIG_ABI		2
#define INTEL_VF_MIG_CTX_ABI		1

#define INTEL_VF_MIG_MAX_MC		32
#define INTEL_VF_MIG_MAX_VLANS		32
#define INTEL_VF_MIG_MAX_MACVLANS	16

/*
 * Plain shifts rather than BIT(): bindgen cannot evaluate BIT().
 * CTS: the VF finished its reset handshake (clear to send).
 * PF_SET_MAC: the MAC was set by the admin, the guest cannot change it.
 * UNI/MULTI_PROMISC: on ixgbe they mirror xcast_mode (UNI: PROMISC; MULTI:
 * ALLMULTI or PROMISC) and must agree with it; igb never grants UNI_PROMISC.
 */
#define INTEL_VF_MIG_F_CTS		(1U << 0)
#define INTEL_VF_MIG_F_PF_SET_MAC	(1U << 1)
#define INTEL_VF_MIG_F_SPOOFCHK		(1U << 2)
#define INTEL_VF_MIG_F_TRUSTED		(1U << 3)
#define INTEL_VF_MIG_F_UNI_PROMISC	(1U << 4)
#define INTEL_VF_MIG_F_MULTI_PROMISC	(1U << 5)
#define INTEL_VF_MIG_F_ALL		((1U << 6) - 1)

/*
 * Mailbox events pending for the PF at save (intel_vf_mig_pf_ctx.mbx_pending).
 * VF_REQ/VF_ACK: the VF raised a request or an ack while quiesced; the PF left
 * it latched, unserviced.  It is the VF's doing, so the caller replays it on
 * the destination through the VF's own mailbox register (after loading the
 * mailbox memory), where the quiesced PF latches it again.  PING: the PF held
 * back a ping (link change, PF reset) from the quiesced VF; restore makes the
 * destination PF ping the VF at unquiesce.
 */
#define INTEL_VF_MIG_MBX_VF_REQ		(1U << 0)
#define INTEL_VF_MIG_MBX_VF_ACK		(1U << 1)
#define INTEL_VF_MIG_MBX_PING		(1U << 2)
#define INTEL_VF_MIG_MBX_ALL		((1U << 3) - 1)

/*
 * Events the PF posts to the VF (intel_vf_mig_ops.post): the VF's mailbox
 * register shows them as PFSTS (a PF message waits in mailbox memory) and
 * PFACK (the PF took the VF's message).  The VF's read clears them, so a
 * caller that read the register at save hands them back this way.
 */
#define INTEL_VF_MIG_POST_STS		(1U << 0)
#define INTEL_VF_MIG_POST_ACK		(1U << 1)
#define INTEL_VF_MIG_POST_ALL		((1U << 2) - 1)

/*
 * Natural alignment, explicit padding, no holes: 268 bytes.  Padding must be
 * zero; array entries past the count are ignored by restore and zeroed by save.
 */
struct intel_vf_mig_pf_ctx {
	__u32 abi;		/* INTEL_VF_MIG_CTX_ABI */
	__u32 flags;		/* INTEL_VF_MIG_F_* */
	__u8 mac[6];		/* VF MAC address, all-zero if none */
	/*
	 * Multicast hashes the VF asked for.  igb keeps at most 30 but
	 * remembers a larger count (up to 255), which it treats as "accept
	 * all multicast": mc_hashes then holds the first 30.  ixgbe clamps
	 * the count to 30.
	 */
	__u16 num_mc;
	__u16 mc_hashes[INTEL_VF_MIG_MAX_MC];
	/*
	 * VLAN ids the VF's pool is a member of, pf_vlan excluded: the guest's
	 * VLANs and VLAN 0 (tagless access) if the pool has it.
	 */
	__u16 num_vlans;
	__u16 vlans[INTEL_VF_MIG_MAX_VLANS];
	__u16 pf_vlan;		/* admin port VLAN, 0 = none */
	__u16 pf_qos;		/* admin port VLAN priority, 0..7 */
	__u16 pad0;
	__u32 tx_rate;		/* Mb/s, 0 = unlimited */
	/*
	 * Largest frame the VF asked to receive (VF_SET_LPE), 0 = it did not
	 * ask: igb then leaves long packets off for the pool, ixgbe leaves its
	 * port-wide MAXFRS alone.
	 */
	__u32 max_frame;
	__u32 xcast_mode;	/* ixgbe: IXGBEVF_XCAST_MODE_*; igb: 0 */
	__u32 mbx_api;		/* ixgbe: negotiated ixgbe_mbox_api_*; igb: 0 */
	__u16 num_macvlans;	/* extra unicast filters (VF MAC filter / MACVLAN requests) */
	__u16 mbx_pending;	/* INTEL_VF_MIG_MBX_* */
	__u8 macvlans[INTEL_VF_MIG_MAX_MACVLANS][6];
};

static_assert(offsetof(struct intel_vf_mig_pf_ctx, mc_hashes) == 16);
static_assert(offsetof(struct intel_vf_mig_pf_ctx, vlans) == 82);
static_assert(offsetof(struct intel_vf_mig_pf_ctx, tx_rate) == 152);
static_assert(offsetof(struct intel_vf_mig_pf_ctx, macvlans) == 172);
static_assert(sizeof(struct intel_vf_mig_pf_ctx) == 268);

/*
 * Error codes: -EINVAL for a malformed value, -EOPNOTSUPP for a valid value
 * this PF (its hardware or current configuration, e.g. link speed for a rate
 * limit) cannot honour, -E2BIG for more entries than the PF or the context can
 * hold, -ENOSPC when the filter tables shared with the PF and the other VFs
 * have no room left.
 */
struct intel_vf_mig_ops {
	u32 abi;	/* INTEL_VF_MIG_ABI */
	/*
	 * Fill *ctx with the PF-held state of VF @vf.  Quiesce first for a
	 * snapshot the guest cannot change behind the caller's back.  May
	 * sleep (takes RTNL).
	 */
	int (*save)(struct pci_dev *vf, struct intel_vf_mig_pf_ctx *ctx);
	/*
	 * Validate every field first (-EINVAL for bad values, -EOPNOTSUPP for
	 * a feature this PF lacks, -E2BIG for too many entries, -ENOSPC for
	 * full shared tables), then program the PF for @vf; nothing is
	 * changed when validation fails.  Admin settings in @ctx (PF_SET_MAC,
	 * SPOOFCHK, TRUSTED, pf_vlan/pf_qos, tx_rate) replace the
	 * destination's.  A VF FLR that the PF has not processed yet is
	 * processed first (so it does not wipe the restored state later).
	 * May sleep (takes RTNL).
	 */
	int (*restore)(struct pci_dev *vf, const struct intel_vf_mig_pf_ctx *ctx);
	/*
	 * Stop servicing @vf's mailbox (requests stay pending in the VF
	 * mailbox, unanswered, and the PF sends the VF no messages of its own)
	 * until unquiesce, which services what is pending and sends the ping
	 * held back meanwhile (or announced by restore's MBX_PING).  Also used
	 * around restore, so that what the caller replays stays latched.  A VF FLR is still processed (it resets the PF-held state)
	 * and ends quiescence, so quiesce after any reset you issue: quiesce
	 * itself first processes an FLR the PF has not seen yet.  Sriov
	 * disable ends it too.  Atomic-safe (spinlock only).
	 */
	int (*quiesce)(struct pci_dev *vf);
	int (*unquiesce)(struct pci_dev *vf);
	/*
	 * Set INTEL_VF_MIG_POST_* events in @vf's mailbox register (and raise
	 * its mailbox interrupt), as if the PF had just sent or acked.  The
	 * mailbox memory is the caller's: the PF writes none.  -EINVAL for
	 * unknown bits.  Atomic-safe (spinlock only).
	 */
	int (*post)(struct pci_dev *vf, u32 events);
};

extern const struct intel_vf_mig_ops igb_vf_mig_ops;	/* EXPORT_SYMBOL_GPL in igb */
extern const struct intel_vf_mig_ops ixgbe_vf_mig_ops;	/* EXPORT_SYMBOL_GPL in ixgbe */

#endif /* _LINUX_INTEL_VF_MIG_H */
