output "id" {
  value = openstack_compute_instance_v2.server.id
}

output "name" {
  value = openstack_compute_instance_v2.server.name
}

output "flavor" {
  value = local.flavor
}

output "image" {
  value = local.image
}

output "private_address" {
  value = openstack_compute_instance_v2.server.access_ip_v4
}

output "public_address" {
  value = var.public_address ? openstack_networking_floatingip_v2.public[0].address : null
}

output "networks" {
  value = [for n in openstack_compute_instance_v2.server.network : { network_id = n.uuid, ip_address = n.fixed_ip_v4 }]
}

output "power_state" {
  value = var.power_state
}

output "orc_resource" {
  value = {
    cloud_id = openstack_compute_instance_v2.server.id
    kind     = "compute"
    attributes = {
      simulated       = false
      name            = openstack_compute_instance_v2.server.name
      flavor          = local.flavor
      image           = local.image
      private_address = openstack_compute_instance_v2.server.access_ip_v4
      public_address  = var.public_address ? openstack_networking_floatingip_v2.public[0].address : null
      power_state     = var.power_state
      security_group  = openstack_networking_secgroup_v2.server.name
      security_rules  = var.endpoint_ports
      ssh_keys        = length(var.ssh_public_keys)
      software_count  = length(var.software)
    }
  }
}
