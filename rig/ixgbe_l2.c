// SPDX-License-Identifier: GPL-2.0
/*
 * Raw layer-2 frames for rig/ixgbe_model_test.sh, which has no tcpdump and a kernel without
 * 802.1Q: sends ARP requests with any source MAC and an optional VLAN tag through a packet
 * socket (what a VF's driver cannot be stopped from doing: the model's anti-spoofing has to),
 * and prints the frames an interface receives with the VLAN tag they came with.
 *
 * usage: ixgbe_l2 send <if> <src MAC> <dst MAC> <VLAN|-> <sender IP> <target IP> [count]
 *          count ARP requests (default 3) 100 ms apart, tagged with VLAN unless "-"
 *        ixgbe_l2 capture <if> <seconds> [promisc]
 *          one line per frame received on <if> (not those it sent) until <seconds> pass:
 *          "<src> > <dst> vlan <id|-> arp <op> <sender IP> > <target IP>", or
 *          "... type <ethertype>" for other frames; "# capturing <if>" first, once the
 *          socket is bound. promisc: the interface is promiscuous while it runs (a
 *          virtio-net that was told of no VLAN drops every tagged frame otherwise).
 * The kernel moves a received 802.1Q tag out of the data; PACKET_AUXDATA gives it back.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_P_VLAN_TAG 0x8100

static int parse_mac(const char *s, uint8_t *m)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		      &m[5]) == 6 ? 0 : -1;
}

static int open_on(const char *ifname, int *ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	*ifindex = if_nametoindex(ifname);
	if (fd < 0 || !*ifindex) {
		perror(ifname);
		return -1;
	}
	sll.sll_ifindex = *ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("bind");
		return -1;
	}
	return fd;
}

/* An ARP request (RFC 826) from src/sip for tip, padded to the 60-byte minimum. */
static size_t build_arp(uint8_t *f, const uint8_t *src, const uint8_t *dst, int vlan,
			struct in_addr sip, struct in_addr tip)
{
	size_t o = 12;

	memset(f, 0, 64);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (vlan >= 0) {
		f[o] = ETH_P_VLAN_TAG >> 8;
		f[o + 1] = ETH_P_VLAN_TAG & 0xff;
		f[o + 2] = vlan >> 8;
		f[o + 3] = vlan & 0xff;
		o += 4;
	}
	f[o] = 0x08, f[o + 1] = 0x06;			/* ARP */
	o += 2;
	f[o + 1] = 1;					/* Ethernet */
	f[o + 2] = 0x08;				/* IPv4 */
	f[o + 4] = 6, f[o + 5] = 4, f[o + 7] = 1;	/* lengths, request */
	memcpy(f + o + 8, src, 6);
	memcpy(f + o + 14, &sip, 4);
	memcpy(f + o + 24, &tip, 4);
	o += 28;
	return o < 60 ? 60 : o;
}

static int do_send(int argc, char **argv)
{
	uint8_t src[6], dst[6], f[64];
	struct in_addr sip, tip;
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = 6 };
	int vlan = strcmp(argv[5], "-") ? atoi(argv[5]) : -1;
	int count = argc > 8 ? atoi(argv[8]) : 3, fd, ifindex, i;
	size_t len;

	if (parse_mac(argv[3], src) || parse_mac(argv[4], dst) || !inet_aton(argv[6], &sip) ||
	    !inet_aton(argv[7], &tip) || vlan > 0xffff) {
		fprintf(stderr, "ixgbe_l2: bad send arguments\n");
		return 2;
	}
	fd = open_on(argv[2], &ifindex);
	if (fd < 0)
		return 1;
	len = build_arp(f, src, dst, vlan, sip, tip);
	to.sll_ifindex = ifindex;
	to.sll_protocol = htons(vlan >= 0 ? ETH_P_VLAN_TAG : ETH_P_ARP);
	memcpy(to.sll_addr, dst, 6);
	for (i = 0; i < count; i++) {
		if (sendto(fd, f, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len) {
			perror("sendto");
			return 1;
		}
		usleep(100000);
	}
	return 0;
}

static void print_frame(const uint8_t *f, size_t len, int vlan)
{
	size_t o = 12;
	unsigned type;

	if (len < 14)
		return;
	printf("%02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x", f[6], f[7], f[8],
	       f[9], f[10], f[11], f[0], f[1], f[2], f[3], f[4], f[5]);
	type = f[o] << 8 | f[o + 1];
	/* A tag the kernel left in the data: the frame had two, or none was taken out. */
	if (vlan < 0 && type == ETH_P_VLAN_TAG && len >= 18) {
		vlan = (f[14] << 8 | f[15]) & 0xfff;
		o += 4;
		type = f[o] << 8 | f[o + 1];
	}
	if (vlan >= 0)
		printf(" vlan %d", vlan);
	else
		printf(" vlan -");
	o += 2;
	if (type == ETH_P_ARP && len >= o + 28) {
		char sip[INET_ADDRSTRLEN], tip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, f + o + 14, sip, sizeof(sip));
		inet_ntop(AF_INET, f + o + 24, tip, sizeof(tip));
		printf(" arp %u %s > %s\n", f[o + 6] << 8 | f[o + 7], sip, tip);
	} else {
		printf(" type 0x%04x\n", type);
	}
	fflush(stdout);
}

static int do_capture(int argc, char **argv)
{
	struct packet_mreq mr = { .mr_type = PACKET_MR_PROMISC };
	struct timespec now, end;
	int one = 1, fd, ifindex;

	fd = open_on(argv[2], &ifindex);
	if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0)
		return 1;
	mr.mr_ifindex = ifindex;
	if (argc > 4 && !strcmp(argv[4], "promisc") &&
	    setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		perror("PACKET_MR_PROMISC");
		return 1;
	}
	printf("# capturing %s\n", argv[2]);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atoi(argv[3]);
	for (;;) {
		uint8_t f[2048], cbuf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		struct sockaddr_ll from;
		struct iovec iov = { f, sizeof(f) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from),
				    .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct cmsghdr *c;
		long ms;
		ssize_t n;
		int vlan = -1;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return 0;
		if (poll(&p, 1, ms) <= 0)
			continue;
		n = recvmsg(fd, &m, 0);
		if (n < 0 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			struct tpacket_auxdata a;

			if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
				continue;
			memcpy(&a, CMSG_DATA(c), sizeof(a));
			if (a.tp_status & TP_STATUS_VLAN_VALID)
				vlan = a.tp_vlan_tci & 0xfff;
		}
		print_frame(f, n, vlan);
	}
}

int main(int argc, char **argv)
{
	if (argc >= 8 && !strcmp(argv[1], "send"))
		return do_send(argc, argv);
	if (argc >= 4 && !strcmp(argv[1], "capture"))
		return do_capture(argc, argv);
	fprintf(stderr, "usage: ixgbe_l2 send <if> <src MAC> <dst MAC> <VLAN|-> <sender IP> "
			"<target IP> [count]\n"
			"       ixgbe_l2 capture <if> <seconds> [promisc]\n");
	return 2;
}
