output "id" {
  description = "The Nova server id."
  value       = openstack_compute_instance_v2.server.id
}

output "name" {
  description = "The server's name in the cloud (<deployment_id>-<name>)."
  value       = openstack_compute_instance_v2.server.name
}

output "flavor" {
  description = "The flavor chosen (explicit, or the best fit)."
  value       = local.flavor
}

output "image" {
  description = "The image chosen (explicit, or the first catalog match)."
  value       = local.image
}

output "private_address" {
  description = "The server's fixed IPv4 address."
  value       = openstack_compute_instance_v2.server.access_ip_v4
}

output "public_address" {
  description = "The floating IP, or null."
  value       = var.public_address ? openstack_networking_floatingip_v2.public[0].address : null
  depends_on  = [openstack_networking_floatingip_associate_v2.public]
}

output "networks" {
  description = "The server's interfaces: [{network_id, port_id, ip_address}]."
  value       = [for n in openstack_compute_instance_v2.server.network : { network_id = n.uuid, port_id = n.port, ip_address = n.fixed_ip_v4 }]
}

output "cloud_init" {
  description = "The cloud-init configuration the server boots with (its user_data), or null."
  value       = local.cloud_init
}

output "power_state" {
  description = "\"started\" or \"stopped\"."
  value       = var.power_state
  depends_on  = [openstack_compute_instance_v2.server]
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this server."
  value = {
    cloud_id = openstack_compute_instance_v2.server.id
    kind     = "compute"
    attributes = {
      simulated         = false
      name              = openstack_compute_instance_v2.server.name
      flavor            = local.flavor
      image             = local.image
      vcpus             = try(local.flavor_spec.vcpus, null)
      ram_mb            = try(local.flavor_spec.ram_mb, null)
      disk_gb           = try(local.flavor_spec.disk_gb, null)
      gpus              = try(local.flavor_spec.gpus, null)
      private_address   = openstack_compute_instance_v2.server.access_ip_v4
      public_address    = var.public_address ? openstack_networking_floatingip_v2.public[0].address : null
      networks          = [for n in openstack_compute_instance_v2.server.network : { network_id = n.uuid, port_id = n.port, ip_address = n.fixed_ip_v4 }]
      power_state       = var.power_state
      availability_zone = openstack_compute_instance_v2.server.availability_zone
      security_group_id = openstack_networking_secgroup_v2.server.id
      security_rules    = var.endpoint_ports
      key_pair          = length(var.ssh_public_keys) > 0 ? openstack_compute_keypair_v2.key[0].name : null
      ssh_keys          = length(var.ssh_public_keys)
      users             = [for u in var.users : u.name]
      mounts            = [for m in local.mounts : { volume_id = m.volume_id, location = m.location, fs_type = m.fs_type }]
      tags              = var.tags
      software          = try([for s in var.software : try(tostring(s.name), "")], [])
    }
  }
  depends_on = [openstack_networking_floatingip_associate_v2.public]
}
