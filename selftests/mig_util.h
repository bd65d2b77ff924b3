/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by vfio_mig_test and vfio_mig_bench:
 *  - the migration stream format of vfio_ixgbevf_mig (pure/stream/format.rs), parsed
 *    and edited from the outside so tests can build broken streams;
 *  - saving/resuming data fd helpers;
 *  - a peer NIC (AF_PACKET on $PEER_IF) and test frames with sequence numbers;
 *  - a traffic engine: the peer sends to the VF at a fixed rate from a thread
 *    while the caller's thread sends from the VF and drains both sides, so
 *    frames keep coming while the caller migrates the VF.
 */
#ifndef MIG_UTIL_H
#define MIG_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "igbvf_drv.h"
#include "vfio_util.h"

/* ---- stream format (drivers/vfio_ixgbevf_mig/pure/stream/format.rs) ---- */

#define MIG_MAGIC		"IXVFMIG1"
#define MIG_VERSION		1
#define MIG_HDR_LEN		32
#define MIG_REC_HDR_LEN		8
#define MIG_COMPAT_LEN		8
#define MIG_INITIAL_LEN		(MIG_HDR_LEN + MIG_REC_HDR_LEN + MIG_COMPAT_LEN)
#define MIG_END_LEN		(MIG_REC_HDR_LEN + 4)
#define MIG_MAX_RECORD		4096
#define MIG_MAX_STREAM		(64 * 1024)
#define MIG_FLAG_MANDATORY	1
#define MIG_FAMILY_IXGBE	0
#define MIG_FAMILY_IGB		1

#define MIG_TAG_COMPAT		0x0001
#define MIG_TAG_DEV_REGS	0x0002
#define MIG_TAG_MAILBOX		0x0003
#define MIG_TAG_PF_CTX		0x0004
#define MIG_TAG_RX_QUEUE	0x0100
#define MIG_TAG_TX_QUEUE	0x0200
#define MIG_TAG_END		0xFFFF

/* Header field offsets */
#define MIG_OFF_VERSION		8
#define MIG_OFF_HDR_LEN		10
#define MIG_OFF_FAMILY		12
#define MIG_OFF_HFLAGS		13
#define MIG_OFF_VENDOR		14
#define MIG_OFF_DEVICE		16
#define MIG_OFF_RXQ		18
#define MIG_OFF_TXQ		19
#define MIG_OFF_RESERVED	20
/* Compat record payload: msix u8, rss u8, mbx_words u8, 0 u8, stream_len u32 */
#define MIG_OFF_COMPAT		(MIG_HDR_LEN + MIG_REC_HDR_LEN)
#define MIG_OFF_STREAM_LEN	(MIG_OFF_COMPAT + 4)

struct mig_rec {
	uint16_t tag, flags;
	uint32_t len;		/* payload bytes */
	size_t off;		/* record header */
	size_t payload;		/* payload start */
	size_t end;		/* past the padding */
};

#define MIG_MAX_RECS	64

uint32_t mig_crc32(const void *data, size_t len);
uint16_t mig_get16(const uint8_t *p);
uint32_t mig_get32(const uint8_t *p);
void mig_put16(uint8_t *p, uint16_t v);
void mig_put32(uint8_t *p, uint32_t v);

/*
 * Checks a whole stream the way a careful reader would (header, record
 * bounds and padding, compat first with the right total length, END last
 * with the right CRC) and fills recs. Returns the record count (END
 * included) or -1 with the reason in why.
 */
int mig_stream_parse(const uint8_t *s, size_t len, struct mig_rec *recs,
		     int max, char *why, size_t whylen);
/* Index of the first record with tag, or -1. */
int mig_stream_find(const struct mig_rec *recs, int n, uint16_t tag);
/* Rewrites compat.stream_len and the END CRC after an edit. */
void mig_stream_fix(uint8_t *s, size_t len);
/*
 * Inserts a record at byte offset at (a record boundary) and fixes the
 * stream. Returns the new length, or 0 if cap is too small.
 */
size_t mig_stream_insert(uint8_t *s, size_t len, size_t cap, size_t at,
			 uint16_t tag, uint16_t flags, const void *payload,
			 uint32_t plen);
/* Removes [off, end) (a whole record) and fixes the stream; new length. */
size_t mig_stream_cut(uint8_t *s, size_t len, size_t off, size_t end);

/* ---- data fds --------------------------------------------------------- */

/*
 * Reads in chunk-sized reads until EOF (0) or an error. Returns the bytes
 * read; *err is 0 at EOF, else the errno of the read that stopped it
 * (ENOMSG: PRE_COPY's temporary end). Stops with ENOBUFS if cap is reached.
 */
size_t mig_read_all(int fd, uint8_t *buf, size_t cap, size_t chunk, int *err);
/* Writes all of buf in chunk-sized writes; 0 or -errno of the failing write. */
int mig_write_all(int fd, const uint8_t *buf, size_t len, size_t chunk);

/* ---- peer NIC and frames ---------------------------------------------- */

/* IEEE "local experimental" ethertype: nothing else on the wire uses it. */
#define MIG_ETHERTYPE	0x88B5
#define MIG_FRAME_MAGIC	0x4d494752u	/* "MIGR" */
#define MIG_FRAME_HDR	(14 + 12)	/* eth + magic, nonce, seq */

struct mig_peer {
	int fd;
	int ifindex;
	uint8_t mac[6];
};

/*
 * Raw socket on @ifname for @ethertype only, link brought up, large buffers; fills the
 * interface index and MAC. Returns the fd or -errno.
 */
int mig_raw_socket(const char *ifname, uint16_t ethertype, int *ifindex, uint8_t mac[6]);
/* 0 or -errno. Brings the link up, binds to MIG_ETHERTYPE. */
int mig_peer_open(const char *ifname, struct mig_peer *p);
void mig_peer_close(struct mig_peer *p);
int mig_peer_send(struct mig_peer *p, const uint8_t *frame, size_t len);
/* Next frame not sent by us; 0 on timeout (deadline in now_ms() units). */
int mig_peer_recv(struct mig_peer *p, uint8_t *buf, size_t cap,
		  uint64_t deadline_ms);

/*
 * A test frame: dst, src, [802.1Q tag if vlan], MIG_ETHERTYPE, magic, nonce,
 * seq, then a payload derived from (nonce, seq). len is the whole frame.
 */
size_t mig_frame(uint8_t *f, size_t len, const uint8_t *dst,
		 const uint8_t *src, uint16_t vlan, uint32_t nonce,
		 uint32_t seq);
/*
 * Sequence number of a frame of this nonce (tagged or not), -1 for anything
 * else; -2 if it is one of ours but its payload is corrupted.
 */
long mig_frame_check(const uint8_t *f, size_t len, uint32_t nonce);

const char *mig_mac_str(const uint8_t *m);

/* ---- traffic engine --------------------------------------------------- */

struct mig_traffic {
	/* set by the caller before mig_traffic_start */
	struct igbvf *vf;		/* follows the VF across a migration */
	const char *peer_if;
	uint8_t vf_dst[6];		/* where the peer sends (VF MAC or group) */
	uint16_t vlan;			/* 802.1Q tag on peer -> VF frames */
	size_t frame_len;
	unsigned int peer_period_us;	/* peer -> VF rate */
	unsigned int vf_period_us;	/* VF -> peer rate */
	unsigned int max;		/* per-direction frame budget */

	/* state */
	struct mig_peer peer;
	uint32_t nonce;
	pthread_t thread;
	bool thread_on;
	volatile int stop;
	volatile uint32_t p_sent;	/* peer -> VF frames sent */
	uint64_t *p_time;		/* ns each was sent */
	int p_err;			/* first sendto errno */
	uint16_t *vf_got;		/* per seq: arrivals at the VF */
	uint32_t vf_stray, vf_bad;
	uint32_t v_sent;		/* VF -> peer frames sent */
	uint64_t v_next;
	uint16_t *peer_got;		/* per seq: arrivals at the peer */
	uint32_t peer_stray, peer_bad;
	uint16_t last_vlan;		/* tag of the last tagged VF RX frame */
	uint32_t ctl_got;		/* control frames (mig_traffic_control) at the VF */
	char err[256];
};

struct mig_counts {
	uint32_t p_sent, vf_recv, vf_lost, vf_dup, vf_lost_outside;
	uint32_t v_sent, peer_recv, peer_lost, peer_dup;
	uint32_t vf_recv_after;	/* peer -> VF frames sent after t1 that arrived */
	uint32_t p_sent_after;
};

/* 0 or -errno with t->err set. */
int mig_traffic_start(struct mig_traffic *t);
/*
 * Runs the caller's side for ms: VF sends at its rate, VF RX and peer RX are
 * drained. 0 or -errno (VF driver error) with t->err set.
 */
int mig_traffic_pump(struct mig_traffic *t, unsigned int ms);
/*
 * Control frames: n frames from the peer to dst (tagged vlan if nonzero),
 * outside the counted stream, then pumps for wait_ms. Returns how many of
 * them reached the VF (to prove that the device filters what it should).
 */
int mig_traffic_control(struct mig_traffic *t, const uint8_t *dst,
			uint16_t vlan, unsigned int n, unsigned int wait_ms);
/* Stops the peer thread, then keeps draining for drain_ms. */
int mig_traffic_stop(struct mig_traffic *t, unsigned int drain_ms);
/*
 * Counts; peer -> VF frames lost count as "outside" unless sent within
 * [t0 - slack, t1 + slack] (ns, now_ns() clock).
 */
void mig_traffic_count(const struct mig_traffic *t, uint64_t t0, uint64_t t1,
		       uint64_t slack, struct mig_counts *c);
void mig_traffic_free(struct mig_traffic *t);

/* ---- DMA check -------------------------------------------------------- */

/*
 * The DMA check of a working VF: n frames VF -> peer and n frames peer -> VF
 * (peer->fd >= 0), every byte compared; with no peer (fd < 0) only the TX
 * write-back is checked. 0, or -errno with the reason in err.
 */
int mig_exchange(struct igbvf *vf, struct mig_peer *peer, unsigned int n,
		 char *err, size_t errlen);

#endif /* MIG_UTIL_H */
