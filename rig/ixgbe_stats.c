// SPDX-License-Identifier: GPL-2.0
/*
 * ethtool -S for the rig VM (busybox has no ethtool): prints "name value" for
 * each of an interface's driver statistics (ETHTOOL_GSTRINGS/ETHTOOL_GSTATS),
 * e.g. ixgbevf's per-queue rx_queue_<n>_packets.
 *
 * usage: ixgbe_stats <ifname>
 */
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int eth_ioctl(int fd, const char *ifname, void *cmd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = cmd;
	return ioctl(fd, SIOCETHTOOL, &ifr);
}

int main(int argc, char **argv)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ethtool_gstrings *names;
	struct ethtool_stats *stats;
	unsigned int n;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <ifname>\n", argv[0]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || eth_ioctl(fd, argv[1], &info)) {
		perror(argv[1]);
		return 1;
	}
	n = info.n_stats;
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	stats = calloc(1, sizeof(*stats) + (size_t)n * sizeof(__u64));
	if (!names || !stats)
		return 1;
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_STATS;
	names->len = n;
	stats->cmd = ETHTOOL_GSTATS;
	stats->n_stats = n;
	if (eth_ioctl(fd, argv[1], names) || eth_ioctl(fd, argv[1], stats)) {
		perror(argv[1]);
		return 1;
	}
	for (unsigned int i = 0; i < n; i++)
		printf("%.*s %llu\n", ETH_GSTRING_LEN,
		       (const char *)names->data + (size_t)i * ETH_GSTRING_LEN,
		       (unsigned long long)stats->data[i]);
	close(fd);
	return 0;
}
