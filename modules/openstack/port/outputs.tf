output "id" {
  description = "The Neutron port id."
  value       = openstack_networking_port_v2.port.id
}

output "ip_address" {
  description = "The port's first fixed address."
  value       = try(openstack_networking_port_v2.port.all_fixed_ips[0], var.ip_address)
}

output "mac_address" {
  description = "The port's MAC address."
  value       = openstack_networking_port_v2.port.mac_address
}

output "network_id" {
  description = "The network the port is on."
  value       = openstack_networking_port_v2.port.network_id
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this port."
  value = {
    cloud_id = openstack_networking_port_v2.port.id
    kind     = "port"
    attributes = {
      simulated   = false
      name        = openstack_networking_port_v2.port.name
      ip_address  = try(openstack_networking_port_v2.port.all_fixed_ips[0], var.ip_address)
      mac_address = openstack_networking_port_v2.port.mac_address
      network_id  = openstack_networking_port_v2.port.network_id
      order       = var.order
      is_default  = var.is_default
    }
  }
}
