#!/bin/sh
# orchestrator-mount-volume VOLUME_ID MOUNT_POINT FS_TYPE FORMAT
#
# Run by cloud-init (runcmd, without a shell: every argument arrives as given)
# for each volume the orchestrator attaches to this server. It waits for the
# volume to appear (Terraform attaches it after the server boots), makes a file
# system on it only when FORMAT is "format" and the volume has none (a new,
# blank volume; an existing one is never formatted), records it in fstab by
# UUID with nofail (so a reboot without the volume still boots) and mounts it.
#
# This file is the SAME in every target's compute module (modules_test.go).
# The ORCHESTRATOR_* variables exist for tests only.
set -eu

if [ "$#" -ne 4 ]; then
	echo "usage: $0 VOLUME_ID MOUNT_POINT FS_TYPE format|keep" >&2
	exit 2
fi
volume_id=$1
mount_point=$2
fs_type=$3
format=$4
by_id=${ORCHESTRATOR_DISK_BY_ID:-/dev/disk/by-id}
fstab=${ORCHESTRATOR_FSTAB:-/etc/fstab}
tries=${ORCHESTRATOR_VOLUME_TRIES:-300}

# Nova exposes a volume under its id cut to 20 characters (virtio-blk), or as
# a SCSI disk carrying that id (virtio-scsi).
short=$(printf '%s' "$volume_id" | cut -c1-20)
device=""
i=0
while [ "$i" -lt "$tries" ]; do
	for candidate in "$by_id/virtio-$short" "$by_id/scsi-0QEMU_QEMU_HARDDISK_$short" "$by_id/scsi-SQEMU_QEMU_HARDDISK_$short"; do
		if [ -e "$candidate" ]; then
			device=$candidate
			break 2
		fi
	done
	i=$((i + 1))
	sleep 2
done
if [ -z "$device" ]; then
	echo "orchestrator: volume $volume_id did not appear under $by_id" >&2
	exit 1
fi

if ! blkid "$device" >/dev/null 2>&1; then
	if [ "$format" != "format" ]; then
		echo "orchestrator: volume $volume_id has no file system and is not new: not formatting it" >&2
		exit 1
	fi
	mkfs -t "$fs_type" "$device"
fi
uuid=$(blkid -s UUID -o value "$device")
found_type=$(blkid -s TYPE -o value "$device")

mkdir -p "$mount_point"
if ! grep -q "^UUID=$uuid " "$fstab" 2>/dev/null; then
	printf 'UUID=%s %s %s defaults,nofail 0 2\n' "$uuid" "$mount_point" "$found_type" >>"$fstab"
fi
if ! mountpoint -q "$mount_point"; then
	mount "$mount_point"
fi
echo "orchestrator: volume $volume_id ($device) mounted at $mount_point"
