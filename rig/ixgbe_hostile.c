// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile guest against the 82599 model (rig/qemu/patches): with the PF unbound from ixgbe,
 * programs its BAR0 through sysfs with what the datasheet leaves undefined (rings of zero
 * length, tails past the ring, ring bases and buffers nowhere, EEPROM words past the end,
 * mailbox writes for VFs that do not exist) and then with random writes all over the BAR,
 * while the peer sends frames into it. The model must log and carry on: the test passes if
 * the VM is still here and the model still answers. Output: TAP.
 *
 * usage: ixgbe_hostile <PF BDF> [random writes] [number of the first test]
 * With a first-test number (run inside rig/ixgbe_model_test.sh) it prints no TAP plan.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BAR_SIZE 0x20000u

static volatile uint32_t *bar;
static int n;

static void wr(uint32_t off, uint32_t v) { bar[off / 4] = v; }
static uint32_t rd(uint32_t off) { return bar[off / 4]; }

static void ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
}

/* Memory space and bus mastering on, so the model really tries its DMA (the vIOMMU has no
 * mapping for an unbound device: every access faults, which is the point). */
static int enable_device(const char *bdf)
{
	char p[256];
	uint16_t cmd;
	int fd;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(p, O_RDWR);
	if (fd < 0 || pread(fd, &cmd, 2, 4) != 2)
		return -1;
	cmd |= 0x6;
	if (pwrite(fd, &cmd, 2, 4) != 2)
		return -1;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long writes = argc > 2 ? strtoul(argv[2], NULL, 0) : 100000;
	uint32_t seed = 12345, i, links;
	char p[256];
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s <PF BDF> [random writes] [first test]\n", argv[0]);
		return 2;
	}
	if (argc > 3)
		n = atoi(argv[3]) - 1;
	else
		printf("1..6\n");
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/resource0", argv[1]);
	fd = open(p, O_RDWR | O_SYNC);
	if (fd < 0 || enable_device(argv[1])) {
		printf("not ok %d - open %s\n", n + 1, p);
		return 1;
	}
	bar = mmap(NULL, BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ok(bar != MAP_FAILED, "BAR0 mapped");
	if (bar == MAP_FAILED)
		return 1;

	/* Global reset, then TX queue 0 with no ring (TDLEN 0) and a tail. */
	wr(0x0, 1u << 26);
	usleep(10000);
	wr(0x4A80, 1);			/* DMATXCTL.TE */
	wr(0x6000, 0xdead0000);		/* TDBAL: nothing there */
	wr(0x6004, 0xffff);
	wr(0x6008, 0);			/* TDLEN 0 */
	wr(0x6028, 1u << 25);		/* TXDCTL.ENABLE */
	wr(0x6018, 7);			/* TDT */
	/* The largest ring, tail past it, then a tail inside it over unmapped memory. */
	wr(0x6008, 0xfff80);
	wr(0x6018, 0xffff);
	wr(0x6018, 4000);
	ok(rd(0x8) != 0xffffffff, "TX: zero-length ring, tail past the ring, unmapped ring");

	/* RX queue 0: unmapped ring, tail past it, receive on. */
	wr(0x1000, 0xbeef0080);
	wr(0x1004, 0x7);
	wr(0x1008, 0x80);		/* 8 descriptors */
	wr(0x1028, 1u << 25);
	wr(0x1018, 0x1234);		/* RDT past the ring */
	wr(0x1018, 5);			/* then inside, over nothing */
	wr(0x5080, 0x700);		/* FCTRL: promiscuous, broadcast */
	wr(0x3000, 1);			/* RXCTRL.RXEN */
	ok(rd(0x8) != 0xffffffff, "RX: unmapped ring, tail past the ring");

	/* EEPROM words past the end, mailboxes of VFs that do not exist. */
	wr(0x10014, (0x3fffu << 2) | 1);
	wr(0x4B00 + 4 * 63, 0x1f);
	for (i = 0; i < 64; i++)
		wr(0x13000 + 64 * 63 + 4 * (i % 16), i);
	ok((rd(0x10014) & 2) != 0, "EERD past the EEPROM completes");

	/* Random writes over the whole BAR (not CTRL: a reset is dull), 32-bit aligned. */
	for (i = 0; i < writes; i++) {
		uint32_t off, v;

		seed = seed * 1103515245u + 12345u;
		off = (seed >> 8) % BAR_SIZE & ~3u;
		seed = seed * 1103515245u + 12345u;
		v = seed;
		if (off == 0)
			continue;
		wr(off, v);
		if (!(i % 64))
			(void)rd(off);
	}
	ok(rd(0x8) != 0xffffffff, "random writes over BAR0");

	/* Back to a sane state: the model must still reset and report its link. */
	wr(0x0, 1u << 26);
	usleep(10000);
	links = rd(0x42A4);
	ok(links & (1u << 30), "after a reset the model answers (LINKS.UP)");
	printf("# LINKS %#x after %lu random writes\n", links, writes);
	return 0;
}
