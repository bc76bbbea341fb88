#!/bin/bash
# The ODP self-test (issue 10 §2), on a kernel whose rxe has ODP (7.3): the
# device registers ODP MRs on FS-DAX, but its ODP data path ignores the
# offset inside a page (upstream rxe, __rxe_odp_mr_copy). The daemon proves
# the path before it trusts it, finds the bytes at the wrong offset, and
# serves the export in bounce mode, saying why; data then lands where it is
# aimed. Forced past the test (mr_mode "odp", odp_self_test = false), the
# same write lands in the wrong place: what the self-test prevents. On a
# kernel without ODP the test has nothing to prove and skips.
. "$DXVM_GUEST/lib.sh"
F=/mnt/pmem/export
check "rxe0 up" rxe_up
check "rxe0 active" rxe_active
check "FS-DAX mounted" pmem_up
check "daxrdmad up" daemon_up
# Whether rxe0 has ODP is the device's word (ibv_devinfo), not the
# daemon's: a rig or a daemon that failed fails the test, it does not skip.
if ! ibv_devinfo -v -d rxe0 | grep -q ODP_SUPPORT; then
	if [ "$DX_FAIL" = 0 ]; then
		echo "SKIP: rxe0 on $(uname -r) has no ODP (ibv_devinfo -v)"
		daemon_down
		exit 77
	fi
	daemon_down
	summary
fi
check "the daemon sees rxe0's RC ODP" json "d['device_odp']" status
$CTL exports
check "pmem: ODP failed its self-test, so bounce" \
	json "[x for x in d['exports'] if x['name'] == 'pmem'][0]['mr_mode'] == 'bounce'" exports
check "... and daxrdmactl exports says why" \
	grep -q 'ODP self-test: data landed at the wrong offset' /tmp/ctl.json
check "the daemon log says it too" grep -q 'ODP self-test: data landed at the wrong offset' /tmp/daemon.log
# A write at an offset inside a page lands there (it did not under ODP).
check "a write of 3 MiB + 123 B at 4096+77, committed" answers OK $GUEST_IP pmem off.dat write 4173 3145851 5
check "... is in the file where it was aimed" \
	cmp <(pattern 4173 3145851 5) <(tail -c +4174 $F/off.dat | head -c 3145851)
check "... and the bytes before it are zeros" cmp <(head -c 4173 /dev/zero) <(head -c 4173 $F/off.dat)
check "bounce copies: bytes_copied counts the grant's fill and the COMMIT" \
	json "d['bytes_copied'] >= 2 * 3145851" status
daemon_down

# What the self-test prevents: ODP forced, unproven.
DX_PMEM_OPTS='mr_mode = "odp"; odp_self_test = false;'
check "daxrdmad up with mr_mode odp and odp_self_test = false" daemon_up
check "pmem is odp, and exports says it is unproven" \
	json "[x for x in d['exports'] if x['name'] == 'pmem'][0]['mr_mode'] == 'odp' and 'unproven' in [x for x in d['exports'] if x['name'] == 'pmem'][0]['mr_mode_reason']" exports
check "the daemon warns at start" grep -q 'odp_self_test = false: ODP is used unproven' /tmp/daemon.log
check "the same write of 3 MiB + 123 B at 4096+77 is acknowledged" \
	answers OK $GUEST_IP pmem forced.dat write 4173 3145851 5
check "... but the file does not hold it where it was aimed (rxe ODP's offset bug)" \
	bash -c "! cmp -s <(pattern 4173 3145851 5) <(tail -c +4174 $F/forced.dat | head -c 3145851)"
# Zero copy where rxe's ODP is correct: page-aligned, at MTU 4096.
check "path MTU 4096" bash -c "ibv_devinfo -d rxe0 | grep -q 'active_mtu:.*4096'"
check "a page-aligned write of 4 MiB at 8192, committed" answers OK $GUEST_IP pmem zc.dat write 8192 4194304 6
check "... is in the file byte for byte" cmp <(pattern 8192 4194304 6) <(tail -c +8193 $F/zc.dat | head -c 4194304)
check "... and read back over RDMA" cmp <(pattern 8192 4194304 6) <($DXC $GUEST_IP pmem zc.dat read 8192 4194304)
check "zero copy: bytes_copied is 0, bytes_committed counts the write" \
	json "d['bytes_copied'] == 0 and d['bytes_committed'] >= 4194304" status
daemon_down
summary
