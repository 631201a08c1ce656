# The cloud-init configuration the server boots with. This file is the SAME in
# every target's compute module (modules_test.go keeps the copies identical):
# `openstack` sends it as user_data, `local` records it.
#
#   - the owners' SSH keys after the first (the first is the key pair) for the
#     image's default user;
#   - the template's os_users as accounts, after the default user (whose keys
#     must keep working);
#   - every attached volume with a mount location: mount-volume.sh waits for it,
#     makes a file system when it is new and blank, and mounts it there.
#
# Values reach cloud-init only through yamlencode, and the mount script only as
# runcmd arguments (no shell): template text never becomes YAML or shell syntax.

locals {
  extra_keys = length(var.ssh_public_keys) > 1 ? slice(var.ssh_public_keys, 1, length(var.ssh_public_keys)) : []

  cloud_users = [for u in var.users : merge(
    { name = u.name, shell = "/bin/bash", lock_passwd = true },
    { for k, v in { uid = u.uid } : k => v if v != null },
    { for k, v in { sudo = u.sudo ? "ALL=(ALL) NOPASSWD:ALL" : null } : k => v if v != null },
    { for k, v in { ssh_authorized_keys = u.ssh_public_key == null ? null : [u.ssh_public_key] } : k => v if v != null },
  )]

  mount_script = "/usr/local/sbin/orchestrator-mount-volume"
  mounts       = [for v in var.volumes : v if v.location != null]

  cloud_config_parts = [
    length(local.extra_keys) > 0 ? yamlencode({ ssh_authorized_keys = local.extra_keys }) : "",
    length(var.users) > 0 ? yamlencode({ users = concat(["default"], local.cloud_users) }) : "",
    length(local.mounts) > 0 ? yamlencode({
      write_files = [{ path = local.mount_script, permissions = "0755", owner = "root:root", content = file("${path.module}/mount-volume.sh") }]
      runcmd      = [for v in local.mounts : [local.mount_script, v.volume_id, v.location, v.fs_type, v.format ? "format" : "keep"]]
    }) : "",
  ]
  # null when there is nothing to configure, so plain servers get no user_data.
  cloud_init = join("", local.cloud_config_parts) == "" ? null : "#cloud-config\n${join("", local.cloud_config_parts)}"
}
