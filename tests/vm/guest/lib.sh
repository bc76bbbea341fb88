# Sourced by guest tests. check DESCRIPTION COMMAND...: one assertion.
DX_PASS=0
DX_FAIL=0
check() {
	local what=$1
	shift
	if "$@"; then
		DX_PASS=$((DX_PASS + 1))
		echo "PASS: $what"
	else
		DX_FAIL=$((DX_FAIL + 1))
		echo "FAIL: $what"
	fi
}
summary() {
	echo "$DX_PASS passed, $DX_FAIL failed"
	[ $DX_FAIL -eq 0 ] && [ $DX_PASS -gt 0 ]
}
# Soft-RoCE on eth0: rdma_cm does not work with rxe on lo.
GUEST_IP=192.168.100.1
rxe_up() {
	modprobe -a virtio_net rdma_rxe rdma_ucm ib_uverbs || return 1
	ip link set eth0 mtu 9000 && ip link set eth0 up &&
		ip addr add $GUEST_IP/24 dev eth0 &&
		rdma link add rxe0 type rxe netdev eth0
}
rxe_active() {
	for _ in $(seq 50); do
		ibv_devinfo -d rxe0 2>/dev/null | grep -q 'state:.*PORT_ACTIVE' && return 0
		sleep 0.1
	done
	return 1
}
# /dev/pmem0 from memmap=, XFS on it mounted -o dax at /mnt/pmem.
pmem_up() {
	modprobe -a nd_e820 nd_pmem xfs || return 1
	for _ in $(seq 50); do [ -b /dev/pmem0 ] && break; sleep 0.1; done
	mkfs.xfs -q -f -m reflink=0 /dev/pmem0 && mkdir -p /mnt/pmem &&
		mount -o dax /dev/pmem0 /mnt/pmem
}
