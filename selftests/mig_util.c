// SPDX-License-Identifier: GPL-2.0
/*
 * Migration test helpers: stream parsing/editing, data fd I/O, peer NIC,
 * test frames and the traffic engine. See mig_util.h.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "mig_util.h"

/* ---- stream ----------------------------------------------------------- */

uint32_t mig_crc32(const void *data, size_t len)
{
	static uint32_t table[256];
	const uint8_t *p = data;
	uint32_t crc = 0xffffffffu;

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint16_t mig_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t mig_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

void mig_put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

void mig_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static int why_fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int mig_stream_parse(const uint8_t *s, size_t len, struct mig_rec *recs,
		     int max, char *why, size_t whylen)
{
	size_t pos = MIG_HDR_LEN;
	int n = 0;

	if (len < MIG_INITIAL_LEN + MIG_END_LEN)
		return why_fail(why, whylen, "stream of %zu bytes too short", len);
	if (len > MIG_MAX_STREAM)
		return why_fail(why, whylen, "stream of %zu bytes too long", len);
	if (memcmp(s, MIG_MAGIC, 8))
		return why_fail(why, whylen, "bad magic");
	if (mig_get16(s + MIG_OFF_VERSION) != MIG_VERSION)
		return why_fail(why, whylen, "version %u", mig_get16(s + MIG_OFF_VERSION));
	if (mig_get16(s + MIG_OFF_HDR_LEN) != MIG_HDR_LEN)
		return why_fail(why, whylen, "header_len %u", mig_get16(s + MIG_OFF_HDR_LEN));
	if (s[MIG_OFF_HFLAGS])
		return why_fail(why, whylen, "header flags 0x%x", s[MIG_OFF_HFLAGS]);
	for (int i = MIG_OFF_RESERVED; i < MIG_HDR_LEN; i++)
		if (s[i])
			return why_fail(why, whylen, "reserved header byte %d = 0x%x", i, s[i]);

	for (;;) {
		struct mig_rec r;
		size_t padded;

		if (pos + MIG_REC_HDR_LEN > len)
			return why_fail(why, whylen, "record header at %zu past the end", pos);
		r.off = pos;
		r.tag = mig_get16(s + pos);
		r.flags = mig_get16(s + pos + 2);
		r.len = mig_get32(s + pos + 4);
		r.payload = pos + MIG_REC_HDR_LEN;
		if (r.len > MIG_MAX_RECORD)
			return why_fail(why, whylen, "record 0x%04x at %zu: len %u",
					r.tag, pos, r.len);
		padded = (r.len + 3u) & ~3u;
		r.end = r.payload + padded;
		if (r.end > len)
			return why_fail(why, whylen, "record 0x%04x at %zu runs past the end",
					r.tag, pos);
		for (size_t i = r.payload + r.len; i < r.end; i++)
			if (s[i])
				return why_fail(why, whylen, "record 0x%04x: nonzero padding",
						r.tag);
		if (n >= max)
			return why_fail(why, whylen, "more than %d records", max);
		recs[n++] = r;
		if (n == 1 && (r.tag != MIG_TAG_COMPAT || r.len != MIG_COMPAT_LEN ||
			       r.flags != MIG_FLAG_MANDATORY))
			return why_fail(why, whylen, "first record 0x%04x/%u/0x%x is not compat",
					r.tag, r.len, r.flags);
		if (r.tag == MIG_TAG_END) {
			uint32_t want;

			if (r.len != 4 || r.flags != MIG_FLAG_MANDATORY)
				return why_fail(why, whylen, "END record len %u flags 0x%x",
						r.len, r.flags);
			if (r.end != len)
				return why_fail(why, whylen, "%zu bytes after END", len - r.end);
			want = mig_crc32(s, r.off);
			if (mig_get32(s + r.payload) != want)
				return why_fail(why, whylen, "CRC 0x%08x, computed 0x%08x",
						mig_get32(s + r.payload), want);
			break;
		}
		pos = r.end;
	}
	if (mig_get32(s + MIG_OFF_STREAM_LEN) != len)
		return why_fail(why, whylen, "compat stream_len %u, stream is %zu bytes",
				mig_get32(s + MIG_OFF_STREAM_LEN), len);
	return n;
}

int mig_stream_find(const struct mig_rec *recs, int n, uint16_t tag)
{
	for (int i = 0; i < n; i++)
		if (recs[i].tag == tag)
			return i;
	return -1;
}

void mig_stream_fix(uint8_t *s, size_t len)
{
	mig_put32(s + MIG_OFF_STREAM_LEN, (uint32_t)len);
	mig_put32(s + len - 4, mig_crc32(s, len - MIG_END_LEN));
}

size_t mig_stream_insert(uint8_t *s, size_t len, size_t cap, size_t at,
			 uint16_t tag, uint16_t flags, const void *payload,
			 uint32_t plen)
{
	size_t rec = MIG_REC_HDR_LEN + ((plen + 3u) & ~3u);

	if (len + rec > cap || at > len)
		return 0;
	memmove(s + at + rec, s + at, len - at);
	memset(s + at, 0, rec);
	mig_put16(s + at, tag);
	mig_put16(s + at + 2, flags);
	mig_put32(s + at + 4, plen);
	memcpy(s + at + MIG_REC_HDR_LEN, payload, plen);
	len += rec;
	mig_stream_fix(s, len);
	return len;
}

size_t mig_stream_cut(uint8_t *s, size_t len, size_t off, size_t end)
{
	memmove(s + off, s + end, len - end);
	len -= end - off;
	mig_stream_fix(s, len);
	return len;
}

/* ---- data fds --------------------------------------------------------- */

size_t mig_read_all(int fd, uint8_t *buf, size_t cap, size_t chunk, int *err)
{
	size_t got = 0;

	/* Bounded: a stream that never ends stops at cap. */
	for (;;) {
		size_t want = cap - got < chunk ? cap - got : chunk;
		ssize_t n;

		if (!want) {
			*err = ENOBUFS;
			return got;
		}
		n = read(fd, buf + got, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = errno;
			return got;
		}
		if (n == 0) {
			*err = 0;
			return got;
		}
		got += n;
	}
}

int mig_write_all(int fd, const uint8_t *buf, size_t len, size_t chunk)
{
	size_t done = 0;

	while (done < len) {
		size_t want = len - done < chunk ? len - done : chunk;
		ssize_t n = write(fd, buf + done, want);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += n;
	}
	return 0;
}

/* ---- peer and frames -------------------------------------------------- */

int mig_raw_socket(const char *ifname, uint16_t ethertype, int *ifindex, uint8_t mac[6])
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr = {};
	int fd, sz = 8 << 20, err;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ethertype));
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr))
		goto err;
	*ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		goto err;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		goto err;
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			goto err;
	}
	/* A burst of full-size frames must not overflow the default buffers. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	sll.sll_protocol = htons(ethertype);
	sll.sll_ifindex = *ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		goto err;
	return fd;
err:
	err = -errno;
	close(fd);
	return err;
}

int mig_peer_open(const char *ifname, struct mig_peer *p)
{
	p->fd = mig_raw_socket(ifname, MIG_ETHERTYPE, &p->ifindex, p->mac);
	return p->fd < 0 ? p->fd : 0;
}

void mig_peer_close(struct mig_peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

int mig_peer_send(struct mig_peer *p, const uint8_t *frame, size_t len)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(MIG_ETHERTYPE),
		.sll_ifindex = p->ifindex,
		.sll_halen = 6,
	};

	memcpy(sll.sll_addr, frame, 6);
	if (sendto(p->fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) !=
	    (ssize_t)len)
		return -errno;
	return 0;
}

int mig_peer_recv(struct mig_peer *p, uint8_t *buf, size_t cap,
		  uint64_t deadline_ms)
{
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t n;

		n = recvfrom(p->fd, buf, cap, MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			if (now >= deadline_ms)
				return 0;
			poll(&pfd, 1, (int)(deadline_ms - now));
			continue;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		return (int)n;
	}
}

static uint8_t payload_byte(uint32_t nonce, uint32_t seq, size_t i)
{
	return (uint8_t)(nonce ^ (seq * 131u) ^ (i * 7u) ^ (i >> 8));
}

size_t mig_frame(uint8_t *f, size_t len, const uint8_t *dst,
		 const uint8_t *src, uint16_t vlan, uint32_t nonce,
		 uint32_t seq)
{
	size_t o = 12;
	uint32_t w;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (vlan) {
		f[o++] = 0x81;
		f[o++] = 0x00;
		f[o++] = vlan >> 8;
		f[o++] = vlan & 0xff;
	}
	f[o++] = MIG_ETHERTYPE >> 8;
	f[o++] = MIG_ETHERTYPE & 0xff;
	w = htonl(MIG_FRAME_MAGIC);
	memcpy(f + o, &w, 4);
	w = htonl(nonce);
	memcpy(f + o + 4, &w, 4);
	w = htonl(seq);
	memcpy(f + o + 8, &w, 4);
	o += 12;
	/* Payload bytes are numbered from the ethertype so a stripped tag does
	 * not change them.
	 */
	for (size_t i = o; i < len; i++)
		f[i] = payload_byte(nonce, seq, i - (vlan ? 4 : 0));
	return len;
}

long mig_frame_check(const uint8_t *f, size_t len, uint32_t nonce)
{
	size_t o = 12, skip = 0;
	uint32_t w, seq;

	if (len >= 18 && f[12] == 0x81 && f[13] == 0x00) {
		o = 16;
		skip = 4;
	}
	if (len < o + 14 || f[o] != (MIG_ETHERTYPE >> 8) ||
	    f[o + 1] != (MIG_ETHERTYPE & 0xff))
		return -1;
	memcpy(&w, f + o + 2, 4);
	if (ntohl(w) != MIG_FRAME_MAGIC)
		return -1;
	memcpy(&w, f + o + 6, 4);
	if (ntohl(w) != nonce)
		return -1;
	memcpy(&w, f + o + 10, 4);
	seq = ntohl(w);
	for (size_t i = o + 14; i < len; i++)
		if (f[i] != payload_byte(nonce, seq, i - skip))
			return -2;
	return seq;
}

const char *mig_mac_str(const uint8_t *m)
{
	static __thread char s[4][18];
	static __thread int n;
	char *p = s[n++ & 3];

	snprintf(p, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 m[0], m[1], m[2], m[3], m[4], m[5]);
	return p;
}

/* ---- traffic ---------------------------------------------------------- */

static int t_fail(struct mig_traffic *t, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	return -err;
}

static void *peer_thread(void *arg)
{
	struct mig_traffic *t = arg;
	uint8_t f[IGBVF_BUF_SIZE];
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!t->stop && t->p_sent < t->max) {
		uint32_t seq = t->p_sent;
		int ret;

		mig_frame(f, t->frame_len + (t->vlan ? 4 : 0), t->vf_dst,
			  t->peer.mac, t->vlan, t->nonce, seq);
		ret = mig_peer_send(&t->peer, f, t->frame_len + (t->vlan ? 4 : 0));
		if (ret) {
			if (!t->p_err)
				t->p_err = -ret;
		} else {
			t->p_time[seq] = now_ns();
			__atomic_store_n(&t->p_sent, seq + 1, __ATOMIC_RELEASE);
		}
		next.tv_nsec += (long)t->peer_period_us * 1000;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

int mig_traffic_start(struct mig_traffic *t)
{
	int ret;

	t->peer.fd = -1;
	if (!t->frame_len)
		t->frame_len = 128;
	if (!t->max)
		t->max = 20000;
	t->nonce = (uint32_t)getpid() * 2654435761u ^ (uint32_t)now_ns();
	t->p_time = calloc(t->max, sizeof(*t->p_time));
	t->vf_got = calloc(t->max, sizeof(*t->vf_got));
	t->peer_got = calloc(t->max, sizeof(*t->peer_got));
	if (!t->p_time || !t->vf_got || !t->peer_got)
		return t_fail(t, ENOMEM, "calloc");
	ret = mig_peer_open(t->peer_if, &t->peer);
	if (ret)
		return t_fail(t, -ret, "peer socket on %s: %s", t->peer_if,
			      strerror(-ret));
	t->v_next = now_ns();
	ret = pthread_create(&t->thread, NULL, peer_thread, t);
	if (ret)
		return t_fail(t, ret, "pthread_create: %s", strerror(ret));
	t->thread_on = true;
	return 0;
}

static void drain_vf(struct mig_traffic *t)
{
	uint8_t f[IGBVF_BUF_SIZE];

	/* Bounded: at most one ring's worth per call. */
	for (int k = 0; k < IGBVF_RING_SIZE; k++) {
		uint16_t vlan = 0;
		int len = igbvf_rx_vlan(t->vf, f, sizeof(f), 0, &vlan);
		long seq;

		if (len == 0)
			return;
		if (len < 0) {
			t->vf_bad++;
			continue;
		}
		if (vlan)
			t->last_vlan = vlan;
		if (mig_frame_check(f, len, t->nonce + 2) >= 0) {
			t->ctl_got++;
			continue;
		}
		seq = mig_frame_check(f, len, t->nonce);
		if (seq == -2)
			t->vf_bad++;
		else if (seq < 0 || seq >= t->max)
			t->vf_stray++;
		else
			t->vf_got[seq]++;
	}
}

static void drain_peer(struct mig_traffic *t)
{
	uint8_t f[IGBVF_BUF_SIZE];

	for (int k = 0; k < 1024; k++) {
		int len = mig_peer_recv(&t->peer, f, sizeof(f), 0);
		long seq;

		if (len <= 0)
			return;
		seq = mig_frame_check(f, len, t->nonce + 1);
		if (seq == -2)
			t->peer_bad++;
		else if (seq < 0 || seq >= t->max)
			t->peer_stray++;
		else
			t->peer_got[seq]++;
	}
}

int mig_traffic_pump(struct mig_traffic *t, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000;
	uint8_t f[IGBVF_BUF_SIZE];

	do {
		uint64_t now = now_ns();

		if (t->vf_period_us && now >= t->v_next && t->v_sent < t->max) {
			int ret;

			mig_frame(f, t->frame_len, t->peer.mac, t->vf->mac, 0,
				  t->nonce + 1, t->v_sent);
			ret = igbvf_tx(t->vf, f, t->frame_len);
			if (ret == 0)
				t->v_sent++;
			else if (ret != -ENOSPC)
				return t_fail(t, -ret, "VF TX: %s", t->vf->err);
			t->v_next += (uint64_t)t->vf_period_us * 1000;
			/* Do not make up for time spent elsewhere (migrating). */
			if (t->v_next < now)
				t->v_next = now;
		}
		drain_vf(t);
		drain_peer(t);
		usleep(200);
	} while (now_ns() < end);
	return 0;
}

int mig_traffic_control(struct mig_traffic *t, const uint8_t *dst,
			uint16_t vlan, unsigned int n, unsigned int wait_ms)
{
	uint32_t before = t->ctl_got;
	uint8_t f[IGBVF_BUF_SIZE];
	size_t len = t->frame_len + (vlan ? 4 : 0);

	for (unsigned int s = 0; s < n; s++) {
		int ret;

		mig_frame(f, len, dst, t->peer.mac, vlan, t->nonce + 2, s);
		ret = mig_peer_send(&t->peer, f, len);
		if (ret)
			return t_fail(t, -ret, "control frame: %s", strerror(-ret));
	}
	if (mig_traffic_pump(t, wait_ms))
		return -EIO;
	return (int)(t->ctl_got - before);
}

int mig_traffic_stop(struct mig_traffic *t, unsigned int drain_ms)
{
	uint32_t vf_period = t->vf_period_us;
	int ret;

	t->stop = 1;
	if (t->thread_on) {
		pthread_join(t->thread, NULL);
		t->thread_on = false;
	}
	t->vf_period_us = 0;	/* drain only */
	ret = mig_traffic_pump(t, drain_ms);
	t->vf_period_us = vf_period;
	return ret;
}

void mig_traffic_count(const struct mig_traffic *t, uint64_t t0, uint64_t t1,
		       uint64_t slack, struct mig_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->p_sent = t->p_sent;
	for (uint32_t s = 0; s < c->p_sent; s++) {
		bool after = t->p_time[s] > t1 + slack;

		if (after)
			c->p_sent_after++;
		if (t->vf_got[s]) {
			c->vf_recv++;
			if (t->vf_got[s] > 1)
				c->vf_dup++;
			if (after)
				c->vf_recv_after++;
		} else {
			c->vf_lost++;
			if (t->p_time[s] + slack < t0 || t->p_time[s] > t1 + slack)
				c->vf_lost_outside++;
		}
	}
	c->v_sent = t->v_sent;
	for (uint32_t s = 0; s < c->v_sent; s++) {
		if (t->peer_got[s]) {
			c->peer_recv++;
			if (t->peer_got[s] > 1)
				c->peer_dup++;
		} else {
			c->peer_lost++;
		}
	}
}

void mig_traffic_free(struct mig_traffic *t)
{
	t->stop = 1;
	if (t->thread_on) {
		pthread_join(t->thread, NULL);
		t->thread_on = false;
	}
	mig_peer_close(&t->peer);
	free(t->p_time);
	free(t->vf_got);
	free(t->peer_got);
	t->p_time = NULL;
	t->vf_got = t->peer_got = NULL;
}

/* ---- DMA check -------------------------------------------------------- */

static int x_fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -e;
}

int mig_exchange(struct igbvf *vf, struct mig_peer *peer, unsigned int n,
		 char *err, size_t errlen)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t nonce = (uint32_t)getpid() ^ (uint32_t)now_ns() ^ 0x5a5a0000u;
	bool have_peer = peer && peer->fd >= 0;
	uint8_t f[IGBVF_BUF_SIZE];
	unsigned int got = 0, stray = 0;
	uint64_t deadline;
	int ret;

	for (unsigned int s = 0; s < n; s++) {
		mig_frame(f, 100 + s, have_peer ? peer->mac : bcast, vf->mac, 0, nonce, s);
		ret = igbvf_tx(vf, f, 100 + s);
		if (ret)
			return x_fail(err, errlen, -ret, "VF TX: %s", vf->err);
	}
	ret = igbvf_tx_wait(vf, IGBVF_WAIT_MS);
	if (ret)
		return x_fail(err, errlen, -ret, "VF TX: %s", vf->err);
	if (!have_peer)
		return 0;

	deadline = now_ms() + IGBVF_WAIT_MS;
	while (got < n) {
		int len = mig_peer_recv(peer, f, sizeof(f), deadline);

		if (len < 0)
			return x_fail(err, errlen, -len, "peer recv: %s", strerror(-len));
		if (!len)
			break;
		if (mig_frame_check(f, len, nonce) >= 0)
			got++;
		else
			stray++;
	}
	if (got != n)
		return x_fail(err, errlen, EIO, "VF %s -> peer: %u of %u frames (%u stray)",
			      mig_mac_str(vf->mac), got, n, stray);

	for (unsigned int s = 0; s < n; s++) {
		mig_frame(f, 100 + s, vf->mac, peer->mac, 0, nonce + 1, s);
		ret = mig_peer_send(peer, f, 100 + s);
		if (ret)
			return x_fail(err, errlen, -ret, "peer send: %s", strerror(-ret));
	}
	got = 0;
	deadline = now_ms() + IGBVF_WAIT_MS;
	while (got < n) {
		uint64_t now = now_ms();
		int len = igbvf_rx(vf, f, sizeof(f), now < deadline ? deadline - now : 0);
		long seq;

		if (len < 0)
			return x_fail(err, errlen, -len, "VF RX: %s", vf->err);
		if (!len)
			break;
		seq = mig_frame_check(f, len, nonce + 1);
		if (seq == -2)
			return x_fail(err, errlen, EBADMSG, "peer -> VF frame corrupted");
		if (seq >= 0)
			got++;
	}
	if (got != n)
		return x_fail(err, errlen, EIO, "peer -> VF %s: %u of %u frames (RDH %u RDT %u)",
			      mig_mac_str(vf->mac), got, n,
			      vfio_bar0_read32(vf->dev, IGBVF_RDH),
			      vfio_bar0_read32(vf->dev, IGBVF_RDT));
	return 0;
}
