/* Addresses: parsing listen addresses and ACL entries, matching peers. */
#ifndef DX_NET_H
#define DX_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct dx_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned int prefix;
};

/* "192.168.1.0/24", "10.0.0.7" (= /32), "fe80::/10", "::1". 0 or -EINVAL. */
int dx_cidr_parse(const char *s, struct dx_cidr *out);
/* Does the peer address SA fall inside C? IPv4-mapped IPv6 peers match IPv4 entries. */
bool dx_cidr_match(const struct dx_cidr *c, const struct sockaddr *sa);
/* Numeric IPv4/IPv6 address plus port into SS. 0 or -EINVAL. */
int dx_sockaddr_parse(const char *addr, uint16_t port, struct sockaddr_storage *ss);
/* "192.168.100.1:20049" or "[fe80::1]:20049". */
const char *dx_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);
/* The address alone: "192.168.100.1" or "fe80::1". */
const char *dx_sockaddr_host_str(const struct sockaddr *sa, char *buf, size_t len);
/* The same host (address; ports aside). */
bool dx_same_host(const struct sockaddr *a, const struct sockaddr *b);

#endif
